/// The dashboard's pages, in the binary: each page is a shell filled by
/// `script`, which puts every piece of user data in the document with
/// `textContent` (text, never markup). The content security policy allows
/// only that script: even markup that slipped through could not run.
enum DashboardPages {
    static let policy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"

    static func shell(_ page: String, _ title: String, _ body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title) · batch</title>
        <style>\(style)</style></head>
        <body data-page="\(page)">
        <header><a href="/"><b>batch</b></a> <a href="/">jobs</a> <a href="/daemons">daemons</a>
        <span id="live" title="updates as they happen">●</span></header>
        <main>\(body)</main>
        <script src="/app.js"></script>
        </body></html>
        """
    }

    static let jobs = shell("jobs", "jobs", """
        <h1>Jobs</h1>
        <p><label>state <select id="state"><option value="">all</option><option>open</option><option>sealed</option>
        <option>complete</option><option>failed</option><option>cancelled</option></select></label>
        <label>show <select id="limit"><option>20</option><option selected>50</option><option>200</option><option>1000</option></select></label>
        <button id="newest">newest</button> <button id="newer">newer</button> <button id="older">older</button> <span id="jobs-page"></span></p>
        <table id="jobs"><thead><tr><th>job</th><th>state</th><th>command</th><th>progress</th><th>done</th>
        <th>rate</th><th>ETA</th><th>age</th></tr></thead><tbody></tbody></table>
        """)

    static let job = shell("job", "job", """
        <h1 id="title">Job</h1>
        <div id="progress" class="bar big"></div><p id="counts"></p>
        <p class="actions"><button id="cancel">cancel</button> <button id="retry">retry failed</button>
        <label>priority <input id="priority" type="number" size="4"></label><button id="set-priority">set</button>
        <button id="remove">remove</button> <span id="message"></span></p>
        <h2>Spec</h2><dl id="spec"></dl>
        <h2>Throughput (items/s)</h2><svg id="chart" width="600" height="120"></svg>
        <h2>Failures</h2><table id="failures"><thead><tr><th>line</th><th>input</th><th>reason</th><th>stderr (tail)</th></tr></thead><tbody></tbody></table>
        <h2>Items</h2>
        <p><label>order <select id="order"><option value="input">input</option><option value="completion">completion</option></select></label>
        <button id="first">first</button> <button id="prev">previous</button> <button id="next">next</button> <span id="page"></span></p>
        <table id="items"><thead><tr><th>line</th><th>input</th><th>status</th><th>attempts</th><th>seconds</th><th>output</th></tr></thead><tbody></tbody></table>
        """)

    static let item = shell("item", "item", """
        <h1 id="title">Item</h1><dl id="facts"></dl>
        <h2>Input</h2><pre id="input"></pre><h2>Output</h2><pre id="output"></pre><h2>Standard error</h2><pre id="stderr"></pre>
        """)

    static let daemons = shell("daemons", "daemons", """
        <h1>Daemons</h1>
        <table id="daemons"><thead><tr><th>host</th><th>pid</th><th>workers</th><th>heartbeat</th><th>since</th><th>chunks held</th></tr></thead><tbody></tbody></table>
        """)

    static let style = """
        body{font:14px system-ui,sans-serif;margin:0;color:#222}header{background:#223;color:#fff;padding:8px 16px}
        header a{color:#fff;margin-right:12px;text-decoration:none}#live{color:#888;float:right}#live.on{color:#4c4}
        main{padding:8px 16px}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
        td.text{font-family:ui-monospace,monospace;white-space:pre-wrap;word-break:break-all;max-width:40em}
        .bar{display:flex;width:200px;height:12px;background:#eee}.bar.big{width:600px;height:18px}.bar span{display:block;height:100%}
        .succeeded{background:#4a4}.failed{background:#c33}.running{background:#48c}.pending{background:#ddd}
        dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{color:#666}pre{background:#f6f6f6;padding:8px;white-space:pre-wrap;word-break:break-all}
        """

    static let script = #"""
    "use strict";
    const token = new URLSearchParams(location.search).get("token");
    const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; };
    const api = (path) => fetch(path, {credentials: "same-origin"}).then(r => { if (!r.ok) throw new Error(r.status); return r.json(); });
    const duration = (s) => s == null ? "" : s < 1 ? Math.round(s * 1000) + " ms" : s < 60 ? s.toFixed(s < 10 ? 1 : 0) + " s" : s < 3600 ? Math.round(s / 60) + " min" : (s / 3600).toFixed(1) + " h";
    const age = (iso) => duration((Date.now() - Date.parse(iso)) / 1000);
    function bar(job, cls) {
      const b = el("div", undefined, cls || "bar"), total = Math.max(1, job.items);
      for (const [k, v] of [["succeeded", job.succeeded], ["failed", job.failed], ["running", job.running], ["pending", job.pending]]) {
        const s = el("span", undefined, k); s.style.width = (100 * v / total) + "%"; s.title = k + ": " + v; b.append(s);
      }
      return b;
    }
    function cell(tr, value, cls) { const td = el("td", value, cls); tr.append(td); return td; }
    function link(href, text) { const a = el("a", text); a.href = href; return a; }
    function live(refresh) {
      refresh();
      let pending = false;
      const events = new EventSource("/events");
      events.addEventListener("open", () => document.getElementById("live").classList.add("on"));
      events.addEventListener("error", () => document.getElementById("live").classList.remove("on"));
      events.addEventListener("change", () => { if (pending) return; pending = true; setTimeout(() => { pending = false; refresh(); }, 100); });
    }
    async function post(path) {
      const meta = document.querySelector('meta[name="batch-token"]');
      const r = await fetch(path, {method: "POST", credentials: "same-origin", headers: {"X-Batch-Token": meta ? meta.content : ""}});
      document.getElementById("message").textContent = r.ok ? "done" : (await r.text());
    }

    const pages = {
      async jobs() {
        const state = document.getElementById("state"), limit = document.getElementById("limit");
        // Pages by job id: each entry is the id the page starts below (null: the newest).
        let starts = [null], lastShown = null;
        async function refresh() {
          const before = starts[starts.length - 1];
          const jobs = await api("/api/jobs?limit=" + limit.value + (state.value ? "&state=" + state.value : "") + (before ? "&before=" + before : ""));
          lastShown = jobs.length == Number(limit.value) ? jobs[jobs.length - 1].id : null;
          document.getElementById("older").disabled = lastShown == null;
          document.getElementById("newer").disabled = document.getElementById("newest").disabled = starts.length == 1;
          document.getElementById("jobs-page").textContent = "page " + starts.length;
          const body = document.querySelector("#jobs tbody"); body.replaceChildren();
          for (const job of jobs) {
            const tr = el("tr"); tr.dataset.job = job.id;
            cell(tr, "").append(link("/jobs/" + job.id, job.id));
            cell(tr, job.state + (job.inputComplete ? "" : " (input open)"));
            cell(tr, job.command.join(" "), "text");
            cell(tr, "").append(bar(job));
            cell(tr, (job.succeeded + job.failed) + " / " + job.items, "done");
            cell(tr, job.ratePerSecond == null ? "" : job.ratePerSecond.toFixed(1) + "/s");
            cell(tr, duration(job.etaSeconds));
            cell(tr, age(job.createdAt));
            body.append(tr);
          }
        }
        const first = () => { starts = [null]; refresh(); };
        state.onchange = first; limit.onchange = first;
        document.getElementById("newest").onclick = first;
        document.getElementById("newer").onclick = () => { if (starts.length > 1) starts.pop(); refresh(); };
        document.getElementById("older").onclick = () => { if (lastShown != null) starts.push(lastShown); refresh(); };
        live(refresh);
      },
      async job() {
        const id = location.pathname.split("/")[2];
        let order = "input", pages = [0], samples = [];
        async function refresh() {
          // The job's past once (sampled over its whole life), then a sample per update.
          const d = await api("/api/jobs/" + id + (samples.length ? "" : "?history=1")), job = d.job;
          if (!samples.length && d.history) samples.push(...d.history);
          document.getElementById("title").textContent = "Job " + job.id + ": " + job.state;
          document.getElementById("progress").replaceWith(Object.assign(bar(job, "bar big"), {id: "progress"}));
          document.getElementById("counts").textContent = `${job.succeeded} succeeded, ${job.failed} failed, ${job.running} running, ${job.pending} pending of ${job.items}` +
            (job.ratePerSecond != null ? ` · ${job.ratePerSecond.toFixed(1)}/s · ETA ${duration(job.etaSeconds)}` : "") + (job.warning ? " · " + job.warning : "");
          const spec = document.getElementById("spec"); spec.replaceChildren();
          for (const [k, v] of [["command", job.command.join(" ")], ["folder", d.workingDirectory], ["mode", d.stream ? "stream" : "one process per item"],
                                ["chunk size", d.chunkSize], ["retries", d.retries], ["-j", d.maxRunning || "no limit"], ["priority", job.priority],
                                ["runtime p50 / p90 / p99 / max", d.runtimePercentiles ? d.runtimePercentiles.map(duration).join(" / ") : ""],
                                ["halted", d.haltReason || ""], ["created", job.createdAt]]) {
            spec.append(el("dt", k), el("dd", v));
          }
          document.getElementById("priority").placeholder = job.priority;
          const failures = document.querySelector("#failures tbody"); failures.replaceChildren();
          for (const f of d.failures) {
            const tr = el("tr"); cell(tr, "").append(link("/jobs/" + id + "/items/" + f.line, f.line));
            cell(tr, f.input, "text"); cell(tr, f.reason); cell(tr, f.stderrTail, "text"); failures.append(tr);
          }
          samples.push([Date.now(), job.succeeded + job.failed]); if (samples.length > 120) samples.shift();
          chart(); await items();
        }
        function chart() {
          const svg = document.getElementById("chart"); svg.replaceChildren();
          if (samples.length < 2) return;
          // Rates over steps of at least 100 ms (and a 60th of the span):
          // results that finished together would read as spikes otherwise.
          const gap = Math.max(100, (samples[samples.length - 1][0] - samples[0][0]) / 60);
          const kept = [samples[0]];
          for (const s of samples.slice(1)) if (s[0] - kept[kept.length - 1][0] >= gap || s === samples[samples.length - 1]) kept.push(s);
          if (kept.length < 2) return;
          const rates = kept.slice(1).map((s, i) => [s[0], (s[1] - kept[i][1]) / Math.max(0.001, (s[0] - kept[i][0]) / 1000)]);
          const t0 = rates[0][0], t1 = rates[rates.length - 1][0], top = Math.max(1, ...rates.map(r => r[1]));
          const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
          line.setAttribute("fill", "none"); line.setAttribute("stroke", "#48c");
          line.setAttribute("points", rates.map(([t, r]) => `${600 * (t - t0) / Math.max(1, t1 - t0)},${115 - 110 * r / top}`).join(" "));
          const label = document.createElementNS("http://www.w3.org/2000/svg", "text"); label.setAttribute("x", 4); label.setAttribute("y", 12);
          label.textContent = "peak " + top.toFixed(1) + "/s"; svg.append(line, label);
        }
        async function items() {
          const after = pages[pages.length - 1];
          const rows = await api(`/api/jobs/${id}/items?order=${order}&after=${after}&limit=50`);
          const body = document.querySelector("#items tbody"); body.replaceChildren();
          for (const r of rows) {
            const tr = el("tr"); cell(tr, "").append(link("/jobs/" + id + "/items/" + r.line, r.line));
            cell(tr, r.input, "text"); cell(tr, r.status, r.status); cell(tr, r.attempts); cell(tr, r.seconds == null ? "" : r.seconds.toFixed(3));
            cell(tr, r.output == null ? "" : r.output + (r.outputBytes > 200 ? " …" : ""), "text"); body.append(tr);
          }
          document.getElementById("page").textContent = rows.length ? `entries after ${after}` : "no entries";
          document.getElementById("next").onclick = () => { if (rows.length) { pages.push(order === "input" ? rows[rows.length - 1].line : rows[rows.length - 1].sequence); items(); } };
        }
        document.getElementById("order").onchange = (e) => { order = e.target.value; pages = [0]; items(); };
        document.getElementById("first").onclick = () => { pages = [0]; items(); };
        document.getElementById("prev").onclick = () => { if (pages.length > 1) pages.pop(); items(); };
        document.getElementById("cancel").onclick = () => post(`/api/jobs/${id}/cancel`);
        document.getElementById("retry").onclick = () => post(`/api/jobs/${id}/retry`);
        document.getElementById("remove").onclick = () => { if (confirm("Remove job " + id + " with its items and results?")) post(`/api/jobs/${id}/remove`); };
        document.getElementById("set-priority").onclick = () => post(`/api/jobs/${id}/priority?value=${encodeURIComponent(document.getElementById("priority").value)}`);
        live(refresh);
      },
      async item() {
        const [, , id, , line] = location.pathname.split("/");
        const r = await api(`/api/jobs/${id}/items/${line}`);
        document.getElementById("title").textContent = `Job ${id}, line ${line}: ${r.status}`;
        const facts = document.getElementById("facts");
        for (const [k, v] of [["attempts", r.attempts], ["seconds", r.seconds], ["reason", r.reason], ["output bytes", r.outputBytes]]) facts.append(el("dt", k), el("dd", v));
        document.getElementById("input").textContent = r.input;
        document.getElementById("output").textContent = r.output || "";
        document.getElementById("stderr").textContent = r.stderrTail || "";
      },
      async daemons() {
        live(async () => {
          const body = document.querySelector("#daemons tbody"); body.replaceChildren();
          for (const d of await api("/api/daemons")) {
            const tr = el("tr"); cell(tr, d.host); cell(tr, d.pid); cell(tr, d.workers); cell(tr, duration(d.heartbeatAgeSeconds) + " ago");
            cell(tr, d.startedAt); cell(tr, d.chunks.join("; ")); body.append(tr);
          }
        });
      },
    };
    pages[document.body.dataset.page]();
    """#
}
