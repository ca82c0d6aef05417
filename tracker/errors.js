/* Obscura tracker, error part, AGPL-3.0 */
(()=>{var w=window,d=document,n=navigator,l=location,s=d.currentScript,D=s.dataset,seen={},sent=0,crumbs=[],ask,T,
u=(D.dsn||'').match(/^(https?:)\/\/(\w+)@([^/]+)\/(\d+)/)
try{T=localStorage.obscura_ignore=='true'}catch(e){}
if(!u||T||D.respectDnt!='false'&&(n.globalPrivacyControl||/1/.test(n.doNotTrack+w.doNotTrack)))return
var base=u[1]+'//'+u[3]+'/api/'+u[4],key='?sentry_key='+u[2],
post=(path,body)=>fetch(base+path,{method:'POST',body,keepalive:!0}).then(r=>r.json()),
frames=t=>(t||'').split('\n').map(x=>{var m=x.match(/^\s*at (?:(.+?) \()?(.+?):(\d+):\d+\)?$/)||x.match(/^(.*?)@(.+?):(\d+):\d+$/)
return m&&{function:m[1]||'?',filename:m[2],lineno:+m[3],in_app:m[2].indexOf(l.origin)==0}}).filter(f=>f).reverse().slice(-50),
// What happened before an error stays on the page; it is sent only if the person agrees.
crumb=(category,message)=>crumbs.push({category,message,timestamp:Date.now()/1e3})>20&&crumbs.shift(),
report=(x,o)=>{var e=x instanceof Error?x:{name:'Error',message:String(x)},f=frames(e.stack)
!f.length&&o&&o.filename&&f.push({function:'?',filename:o.filename,lineno:o.lineno,in_app:o.filename.indexOf(l.origin)==0})
var k=e.name+e.message+JSON.stringify(f[f.length-1]),ev={platform:'javascript',level:'error',release:D.release,environment:D.environment,
request:{url:l.href},exception:{values:[{type:e.name,value:String(e.message).slice(0,1e3),stacktrace:{frames:f}}]}}
if(seen[k]||sent>9)return;seen[k]=sent+=1
post('/store/'+key,JSON.stringify(ev)).then(a=>{var q=a.diagnostics
q&&ask&&Promise.resolve(ask({purpose:q.purpose,wants:q.wants})).then(yes=>yes&&post('/diagnostics/'+q.request+'/consent'+key)
.then(t=>t.token&&post('/store/'+key+'&obscura_consent='+t.token,JSON.stringify({...ev,breadcrumbs:crumbs}))))}).catch(()=>0)},
hook=()=>w.obscura&&(w.obscura.onDiagnosticsRequest=f=>ask=f)
addEventListener('error',o=>o.message&&report(o.error||o.message,o))
addEventListener('unhandledrejection',o=>report(o.reason))
addEventListener('click',o=>crumb('ui.click',(o.target.localName||'')+(o.target.id?'#'+o.target.id:'')),!0)
crumb('navigation',l.pathname);addEventListener('popstate',()=>crumb('navigation',l.pathname))
w.obscuraErrors={report,onDiagnosticsRequest:f=>ask=f};hook();d.addEventListener('DOMContentLoaded',hook)})()
