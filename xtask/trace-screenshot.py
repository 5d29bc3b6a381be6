#!/usr/bin/env python3
"""Remake docs/trace.png: a small chat, recorded, exported, opened in catapult's trace viewer.

    python3 xtask/trace-screenshot.py CATAPULT_CHECKOUT [OUT.png]

Needs target/release/muxscope, chromium, `pip install websocket-client` and a checkout of
the catapult project (catapult-project/catapult, the viewer behind the old chrome://tracing, which
Chromium no longer ships; its tracing/bin/trace2html embeds a trace in one HTML page).
"""
import base64, itertools, json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request
import websocket

catapult, out = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "docs/trace.png")
tmp = tempfile.mkdtemp(prefix="trace-shot-")
rec, trace, page = (os.path.join(tmp, n) for n in ("demo.muxrec", "demo.json", "demo.html"))

# 1. A chat: alice, bob and carol talk, bob quits, dave gets his fd number and talks.
srv = subprocess.Popen(["target/release/muxscope", "--chat-addr", "127.0.0.1:3999", "--no-web",
                        "--record", rec], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1)
def join(nick):
    s = socket.create_connection(("127.0.0.1", 3999)); time.sleep(0.02); say(s, "/nick " + nick); return s
def say(s, line): s.sendall((line + "\n").encode()); time.sleep(0.02)
a, b, c = join("alice"), join("bob"), join("carol")
say(a, "hi all"); say(b, "hey alice"); say(c, "morning!")
say(a, "epoll or select?"); say(b, "epoll, level-triggered"); say(b, "gotta go"); say(b, "quit"); b.close()
d = join("dave")
say(d, "did I miss bob?"); say(c, "by a few ms"); say(a, "welcome dave")
for s in (a, c, d):
    s.settimeout(0.2)
    try:
        while s.recv(65536): pass
    except socket.timeout: pass
    s.close()
srv.terminate(); srv.wait()
subprocess.run(["target/release/muxscope", "export", rec, "-o", trace], check=True)
subprocess.run([sys.executable, os.path.join(catapult, "tracing/bin/trace2html"), trace,
                "--output", page, "--title", "muxscope", "--quiet"], check=True)

# 2. Headless Chromium over the DevTools protocol.
chrome = subprocess.Popen(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--user-data-dir=" + os.path.join(tmp, "profile"), "--remote-debugging-port=9333",
    "--remote-allow-origins=*", "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(100):
        try: tabs = json.load(urllib.request.urlopen("http://127.0.0.1:9333/json")); break
        except OSError: time.sleep(0.1)
    ws = websocket.create_connection([t for t in tabs if t["type"] == "page"][0]["webSocketDebuggerUrl"])
    ids = itertools.count(1)
    def cdp(method, **params):
        i = next(ids); ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            m = json.loads(ws.recv())
            if m.get("id") == i: return m["result"]
    # 1120×640 CSS px at 1.25×: a 1400×800 picture with readable text.
    cdp("Emulation.setDeviceMetricsOverride", width=1120, height=640, deviceScaleFactor=1.25, mobile=False)
    cdp("Page.navigate", url="file://" + page); time.sleep(4)
    # 3. Zoom to the loop turn that broadcasts dave's line (between two epoll_waits) and select
    # the broadcast with its flows, so the arrows are drawn and its args are listed below.
    r = cdp("Runtime.evaluate", awaitPromise=True, returnByValue=True, expression="""(async () => {
      const tv = document.querySelector('tr-ui-timeline-view');
      tr.ui.b.constants.HEADING_WIDTH = 300; tv.model = tv.model;  // wider track names
      await new Promise(r => setTimeout(r, 500));
      const m = tv.model, threads = Object.values(m.getAllProcesses()[0].threads);
      const b = threads.flatMap(t => t.sliceGroup.slices)
        .find(s => s.title === 'broadcast' && s.args.text === 'did I miss bob?');
      const flows = m.flowEvents.filter(f => f.startSlice === b);
      const last = Math.max(...flows.map(f => f.endSlice.start));
      const waits = threads.find(t => t.name === 'event loop').sliceGroup.slices;
      const prev = waits.filter(s => s.end <= b.start).pop(), next = waits.find(s => s.start >= last);
      const pad = (next.start - prev.end) * 0.35, vp = tv.trackView.viewport;
      const dt = new tr.ui.TimelineDisplayTransform(); dt.set(vp.currentDisplayTransform);
      dt.xSetWorldBounds(prev.end - pad, next.start + pad,
                         vp.modelTrackContainer.canvas.clientWidth * devicePixelRatio);
      vp.setDisplayTransformImmediately(dt);
      tv.brushingStateController.changeSelectionFromTimeline(new tr.model.EventSet([b, ...flows]));
      tv.$.analysis.style.height = '345px';
      const hide = n => { if (n.shadowRoot) hide(n.shadowRoot); for (const k of n.children) hide(k);
        if (n.tagName === 'TR-UI-B-MOUSE-MODE-SELECTOR') n.style.display = 'none'; };
      hide(document.documentElement);
      await new Promise(r => setTimeout(r, 500));
      return flows.length;
    })()""")
    assert r["result"].get("value") == 3, r
    png = base64.b64decode(cdp("Page.captureScreenshot", format="png")["data"])
    open(out, "wb").write(png)
    print(f"wrote {out} ({len(png)} bytes)")
finally:
    chrome.terminate(); chrome.wait(); shutil.rmtree(tmp, ignore_errors=True)
