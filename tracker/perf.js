/* Obscura tracker, performance part, AGPL-3.0 */
(()=>{var d=document,n=navigator,s=d.currentScript,D=s.dataset,P=performance,R=Math.round,X=Math.max,
N=P.getEntriesByType('navigation')[0]||{},A=N.activationStart||0,H=d.hidden&&!d.prerendering?0:1/0,V={},I={},W=[],Z=0,C=0,S,E,L,T
try{T=localStorage.obscura_ignore=='true'}catch(e){}
if(T||D.respectDnt!='false'&&(n.globalPrivacyControl||/1/.test(n.doNotTrack+window.doNotTrack)))return
var O=(t,f,o)=>{try{new PerformanceObserver(x=>x.getEntries().map(f)).observe({type:t,buffered:!0,...o})}catch(e){}},
M=v=>R(X(v-A,0)),
Q=e=>{for(var p=[],i=0;e&&i<4;e=e.parentElement,i++)p.unshift(e.localName+(e.id?'#'+e.id:'')+[...e.classList].map(c=>'.'+c).join(''));return p.join('>').slice(0,200)},
K=e=>e.interactionId&&(I[e.interactionId]=X(I[e.interactionId]||0,e.duration)),
F=()=>{if(S)return;S=1;var m={},v=Object.values(I).sort((a,b)=>b-a)
v.length&&(V.inp=R(v[Math.min(v.length-1,(P.interactionCount||v.length)/50|0)]))
V.fcp>=0&&(V.cls=R(C*1e4)/1e4);N.responseStart>0&&(V.ttfb=M(N.responseStart));N.loadEventEnd>0&&(V.load=R(N.loadEventEnd))
P.getEntriesByType('resource').map(e=>{if(!/^http/.test(e.name))return;var h=new URL(e.name).hostname,c=m[h]=m[h]||{host:h,k:0,t:[0,0,0,0,0,0]}
c.resources=-~c.resources;e.responseStatus>399&&(c.failures=-~c.failures);if(!e.responseStart)return c.timing_hidden=-~c.timing_hidden
c.protocol=e.nextHopProtocol||c.protocol;e.serverTiming&&(c.server_timing=e.serverTiming.map(x=>x.name));if(!e.transferSize&&e.encodedBodySize)return c.cache_hits=-~c.cache_hits
c.k++;[e.domainLookupEnd-e.domainLookupStart,e.connectEnd-e.connectStart,e.secureConnectionStart?e.connectEnd-e.secureConnectionStart:0,e.responseStart-e.requestStart,e.responseEnd-e.responseStart,e.transferSize].map((x,i)=>c.t[i]+=x)})
m=Object.values(m).slice(0,20).map(c=>{c.k&&['dns','connect','tls','ttfb','download','bytes'].map((x,i)=>c[x]=R(i<5?c.t[i]/c.k:c.t[i]));delete c.k;delete c.t;return c})
n.sendBeacon(D.api||new URL('/api/vitals',s.src),JSON.stringify({site:D.site||location.hostname,url:location.href,automated:!!(n.webdriver||/Headless/.test(n.userAgent)),nav:N.type,connection:(n.connection||0).effectiveType,vitals:V,lcp_element:E,cdn:m}))}
O('paint',e=>e.name=='first-contentful-paint'&&e.startTime<H&&(V.fcp=M(e.startTime)))
O('largest-contentful-paint',e=>!L&&e.startTime<H&&(V.lcp=M(e.startTime),E=Q(e.element)))
O('layout-shift',e=>{if(!e.hadRecentInput){var f=W[0],g=W[W.length-1];g&&e.startTime-g.startTime<1e3&&e.startTime-f.startTime<5e3?(Z+=e.value,W.push(e)):(Z=e.value,W=[e]);C=X(C,Z)}})
O('event',K,{durationThreshold:40});O('first-input',K)
;['keydown','click'].map(t=>addEventListener(t,()=>setTimeout(()=>L=1),{once:!0,capture:!0}))
d.addEventListener('visibilitychange',()=>d.hidden&&F(),!0)
addEventListener('pagehide',F)})()
