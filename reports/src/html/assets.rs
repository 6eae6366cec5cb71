//! The inline stylesheet and script every HTML page carries, so a page opens offline in any
//! browser: no CDN, no web fonts, no fetch.

use crate::svg::escape;

/// The stylesheet.
const CSS: &str = r#"
:root{--fg:#1d2330;--muted:#5b6475;--line:#d9dde5;--bg:#fff;--soft:#f5f6f9;--bad:#c0392b;--good:#2e7d32}
*{box-sizing:border-box}
body{margin:0;padding:24px 32px 48px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1320px;margin:0 auto}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.meta{color:var(--muted);margin:2px 0}
.banner{background:#fff4e5;border:1px solid #f0b35b;padding:6px 10px;border-radius:4px;margin:8px 0}
.banner.limited{background:#fdecea;border-color:#e57373}.banner ul{margin:4px 0 0;padding-left:20px}
.not-observed{border:1px dashed var(--line);border-radius:4px;padding:8px 12px;margin:4px 0;color:var(--muted)}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:6px 0;font-size:13px}
th,td{padding:3px 7px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th{background:var(--soft);font-weight:600}
td.l,th.l{text-align:left}
tr.best td{background:#f0f7f0}
.scroll{overflow-x:auto}
.cold-starts,.clusters{display:flex;flex-wrap:wrap;gap:4px 18px}
table.cold-start caption,table.cluster caption{text-align:left;font-weight:600;padding:2px 0}
table.cluster td{white-space:normal;max-width:640px}table.cluster ul{margin:2px 0 0;padding-left:18px;font-weight:400}
.yes{color:var(--good);font-weight:600}.no{color:var(--bad);font-weight:600}
.better{color:var(--good)}.worse{color:var(--bad)}
.tabs{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0}
.tabs button{font:inherit;padding:4px 10px;border:1px solid var(--line);border-radius:14px;background:var(--soft);cursor:pointer}
.tabs button.on{background:#1d2330;color:#fff;border-color:#1d2330}
.charts{display:flex;flex-direction:column;gap:2px}
.chart-wrap{position:relative}
svg.chart{width:100%;height:auto;display:block;font-size:11px}
svg .title{font-size:13px;font-weight:600;fill:var(--fg)}
svg .note{fill:var(--muted)}
svg .tick{fill:var(--muted)}
svg .axis-title{fill:var(--muted);font-size:11px}
svg .grid{stroke:#eceef2;stroke-width:1}
svg .axis{stroke:#9aa1ad;stroke-width:1}
svg polyline{stroke-width:1.6;stroke-linejoin:round}
svg polyline.off{opacity:.1}
svg .legend-item text{fill:var(--fg)}
.overlay svg .legend-item{cursor:pointer}
svg .legend-item.off{opacity:.35}
svg .ref line{stroke:var(--bad);stroke-width:1.2;stroke-dasharray:6 4}
svg .ref text{fill:var(--bad);font-size:11px}
svg .marker line{stroke:#7b2cbf;stroke-width:1.2;stroke-dasharray:3 3}
svg .marker text{fill:#7b2cbf;font-size:10.5px}
svg .cursor{stroke:#333;stroke-width:.8}
svg .front{stroke:#2e7d32;stroke-width:1.5;stroke-dasharray:4 3}
svg .pt{stroke:#fff;stroke-width:1}svg .pt.hi{stroke:#1d2330;stroke-width:2}
svg .pt-label{font-size:11px;fill:var(--fg)}
.readout{position:absolute;right:66px;top:2px;font-size:11.5px;background:rgba(255,255,255,.92);border:1px solid var(--line);padding:1px 6px;border-radius:3px;visibility:hidden;pointer-events:none;font-variant-numeric:tabular-nums}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0}
details pre{background:var(--soft);padding:10px;overflow:auto;max-height:480px;font-size:12px}
.small{font-size:12px;color:var(--muted)}
"#;

/// Errors caught before the main script runs end up on `<body data-error>`.
const HEAD_JS: &str = r#"window.addEventListener('error',function(e){document.documentElement.setAttribute('data-error',String(e.message));});"#;

/// The hover readout, the setup tabs and the overlay toggles; sets `<body data-ready="1">`
/// when done. `#setup=NAME` in the URL opens a setup's tab, `#hover=T` shows the readouts at
/// T seconds (how the browser test checks them).
const JS: &str = r#"(function(){'use strict';
function num(el,n){return parseFloat(el.getAttribute(n));}
function fmt(v){if(!isFinite(v))return '-';var a=Math.abs(v);if(a>=100)return v.toFixed(0);if(a>=10)return v.toFixed(1);if(a>=1)return v.toFixed(2);return v.toPrecision(2);}
function pad(n){return n<10?'0'+n:''+n;}
function fmtT(t){t=Math.round(t);var h=Math.floor(t/3600),m=Math.floor(t/60)%60,s=t%60;return h?h+'h'+pad(m)+'m'+pad(s)+'s':(m?m+'m'+pad(s)+'s':s+'s');}
function invert(svg,pl,py){var r=pl.getAttribute('data-axis')==='right';var y0=num(svg,r?'data-ry0':'data-y0'),y1=num(svg,r?'data-ry1':'data-y1');var f=(py-num(svg,'data-py0'))/(num(svg,'data-py1')-num(svg,'data-py0'));if(!r&&svg.getAttribute('data-yscale')==='log'){return Math.pow(10,Math.log10(y0)+f*(Math.log10(y1)-Math.log10(y0)));}return y0+f*(y1-y0);}
function prepare(svg){var px0=num(svg,'data-px0'),px1=num(svg,'data-px1'),x0=num(svg,'data-x0'),x1=num(svg,'data-x1');
var lines=Array.prototype.map.call(svg.querySelectorAll('polyline[data-series]'),function(pl){var raw=(pl.getAttribute('points')||'').trim();var pts=raw?raw.split(/\s+/).map(function(p){var c=p.split(',');return [parseFloat(c[0]),parseFloat(c[1])];}):[];return {el:pl,name:pl.getAttribute('data-series'),pts:pts};});
var wrap=svg.parentNode,out=wrap.querySelector('.readout'),cursor=svg.querySelector('.cursor');
svg.sbShow=function(t){if(t===null){if(cursor)cursor.setAttribute('visibility','hidden');if(out)out.style.visibility='hidden';return;}
var px=px0+(t-x0)/(x1-x0)*(px1-px0);if(cursor){cursor.setAttribute('x1',px);cursor.setAttribute('x2',px);cursor.setAttribute('visibility','visible');}
var parts=[fmtT(t)];lines.forEach(function(l){if(!l.pts.length||l.el.classList.contains('off'))return;var lo=0,hi=l.pts.length-1;while(lo<hi){var mid=(lo+hi)>>1;if(l.pts[mid][0]<px)lo=mid+1;else hi=mid;}if(lo>0&&Math.abs(l.pts[lo-1][0]-px)<Math.abs(l.pts[lo][0]-px))lo--;parts.push(l.name+' '+fmt(invert(svg,l.el,l.pts[lo][1])));});
if(out){out.textContent=parts.join('  \u00b7  ');out.style.visibility='visible';}};
svg.sbTime=function(ev){var r=svg.getBoundingClientRect(),vb=svg.viewBox.baseVal;var px=(ev.clientX-r.left)*vb.width/r.width;if(px<px0||px>px1)return null;return x0+(px-px0)/(px1-px0)*(x1-x0);};}
var svgs=document.querySelectorAll('svg.chart[data-x0]');Array.prototype.forEach.call(svgs,prepare);
Array.prototype.forEach.call(svgs,function(svg){if(svg.classList.contains('scatter'))return;var group=svg.closest('.charts')||svg.parentNode;
function all(t){Array.prototype.forEach.call(group.querySelectorAll('svg.chart[data-x0]'),function(s){if(s.sbShow&&!s.classList.contains('scatter'))s.sbShow(t);});}
svg.addEventListener('mousemove',function(ev){all(svg.sbTime(ev));});svg.addEventListener('mouseleave',function(){all(null);});});
var tabs=document.querySelectorAll('[data-show-setup]');
function select(i){Array.prototype.forEach.call(document.querySelectorAll('section.setup'),function(s){s.hidden=!(i==='all'||s.getAttribute('data-index')===i);});Array.prototype.forEach.call(tabs,function(b){b.classList.toggle('on',b.getAttribute('data-show-setup')===i);});}
Array.prototype.forEach.call(tabs,function(b){b.addEventListener('click',function(){select(b.getAttribute('data-show-setup'));});});
if(tabs.length){var want='0',m=/setup=([^&]+)/.exec(location.hash);if(m){var name=m[1];try{name=decodeURIComponent(name);}catch(e){}Array.prototype.forEach.call(document.querySelectorAll('section.setup'),function(s){if(s.getAttribute('data-setup')===name||s.getAttribute('data-index')===name)want=s.getAttribute('data-index');});if(name==='all')want='all';}select(want);}
Array.prototype.forEach.call(document.querySelectorAll('.overlay'),function(ov){Array.prototype.forEach.call(ov.querySelectorAll('.legend-item'),function(g){g.addEventListener('click',function(){var name=g.getAttribute('data-legend'),off=!g.classList.contains('off');
Array.prototype.forEach.call(ov.querySelectorAll('.legend-item'),function(o){if(o.getAttribute('data-legend')===name)o.classList.toggle('off',off);});
Array.prototype.forEach.call(ov.querySelectorAll('polyline[data-series]'),function(pl){if(pl.getAttribute('data-series')===name)pl.classList.toggle('off',off);});});});});
var hv=/hover=([0-9.]+)/.exec(location.hash);if(hv){Array.prototype.forEach.call(svgs,function(s){if(s.sbShow&&!s.classList.contains('scatter'))s.sbShow(parseFloat(hv[1]));});}
document.body.setAttribute('data-ready','1');})();"#;

/// A whole page: `<head>` with the stylesheet, `body` inside `<main>`, then the script.
pub(crate) fn page(title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + CSS.len() + JS.len() + 512);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    out.push_str("<link rel=\"icon\" href=\"data:,\">");
    out.push_str(&format!("<title>{}</title>", escape(title)));
    out.push_str("<script>");
    out.push_str(HEAD_JS);
    out.push_str("</script><style>");
    out.push_str(CSS);
    out.push_str("</style></head>\n<body><main>\n");
    out.push_str(body);
    out.push_str("</main>\n<script>");
    out.push_str(JS);
    out.push_str("</script></body></html>\n");
    out
}
