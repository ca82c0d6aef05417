/* Obscura tracker, AGPL-3.0 */
(()=>{var w=window,d=document,n=navigator,l=location,s=d.currentScript,D=s.dataset,N=Date.now,Q=(w.obscura||0).q||[],P,T=0,V=0,L,X
try{L=localStorage;X=L.obscura_ignore=='true'}catch(e){}
if(X||D.respectDnt!='false'&&(n.globalPrivacyControl||/1/.test(n.doNotTrack+w.doNotTrack))||l.protocol=='file:'&&D.allowAutomation==null)return w.obscura=()=>{}
var E=D.api||new URL('/api/event',s.src),S=D.site||l.hostname,
Z=((g,r)=>{try{g=d.createElement('canvas').getContext('webgl');r=g.getParameter(g.getExtension('WEBGL_debug_renderer_info').UNMASKED_RENDERER_WEBGL)}catch(e){}
return n.webdriver|/Headless/.test(n.userAgent)<<1|!(n.languages||'').length<<2|!screen.width<<3|/(^|,)(cdc_|callPhantom|__nightmare|domAutomation|__playwright)/.test(Object.keys(w))<<4|/SwiftShader/.test(r)<<5|!(w.AudioContext||w.webkitAudioContext)<<6})(),
H=0,R=[],F=x=>N()<H?R[19]||R.push(x):fetch(E,{method:'POST',body:x,keepalive:!0}).then(r=>r.status>502&&(R[19]||R.push(x),N()<H||setTimeout(_=>R.splice(H=0).map(F),(H=N()+1e3*(r.headers.get('retry-after')||5))-N())),_=>0),
B=(k,x,u)=>{x.site=S;x.kind=k;x.url=u||l.href;x.screen_width=screen.width;x.signals=Z;x=JSON.stringify(x);u&&H<N()?n.sendBeacon(E,x):F(x)},
Y=()=>{T+=V&&N()-V;V=!d.hidden&&N();T>0&&B('engagement',{engaged_ms:T},P);T=0},
W=(p,x,t,v,g,c)=>{p=l.href.split('#')[0];if(p!=P){Y();x={referrer:!P&&d.referrer||null};P=p
try{t=(N()/6e4-new Date().getTimezoneOffset())/1440|0;v=JSON.parse(L.obscura_v||0);g=t-v.d
if(v.d!=t)L.obscura_v=JSON.stringify(v={d:t,n:v.n>9?10:-~v.n,b:v.d&&(g<2?g<1?'0':'1':g<8?'2-7':g<31?'8-30':'31+')})
c=v.n;x.days_since_last=v.b;x.visit_count=c<2?'1':c<4?'2-3':c<10?'4-9':'10+'}catch(e){}x.returning=c>1;B('pageview',x)}},
C=w.obscura=(m,p)=>B('event',{name:m,props:p||{}}),o=history.pushState
history.pushState=function(){o.apply(this,arguments);W()}
addEventListener('popstate',W);addEventListener('pagehide',Y);d.addEventListener('visibilitychange',Y)
d.addEventListener('click',e=>{var a=e.target.closest('a');a&&/^http/.test(a.protocol)&&a.host!=l.host&&C('Outbound Link: Click',{url:a.href})},!0)
W();Q.map(a=>C(...a))})()
