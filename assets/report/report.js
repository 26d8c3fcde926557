/* cfp report page: reads window.CFP_REPORT (data.js) and draws the clip, the
 * prediction, the pyramid graph (SVG edges, GIF thumbnails), the node panel and
 * the layer-wise tubes. Plain JS, no network, works from file://.
 *
 * index.html#node=ID opens node ID's panel. index.html#selftest runs the
 * self-test (see selftest() at the end) and writes its result into
 * <pre id="selftest">. */
(function () {
  "use strict";

  var R = window.CFP_REPORT;
  var PER_LEVEL = 12;      /* nodes shown per level before "+N more" */
  var MORE_STEP = 24;      /* nodes added per click on "+N more" */
  var MAX_CHIPS = 60;      /* parents/children listed before "show all" */
  var HEAD_W = 196, ROW_H = 128, ROW_GAP = 64, PAD_X = 20, GAP_X = 10;
  var NODE_W = 88, DOT_W = 44, CLS_W = 120, MORE_W = 84;

  /* ---- small helpers ------------------------------------------------------ */

  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      var v = attrs[k];
      if (v == null || v === false) continue;
      if (k === "text") e.textContent = v;
      else if (k === "cls") e.className = v;
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    if (kids) kids.forEach(function (c) {
      if (c == null) return;
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return e;
  }
  function svgEl(tag, attrs) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function $(id) { return document.getElementById(id); }
  function fmt(x, d) { return x == null || !isFinite(x) ? "–" : Number(x).toFixed(d == null ? 3 : d); }
  function pct(p) { return p == null ? "–" : (100 * p).toFixed(p >= 0.995 ? 0 : 1) + "%"; }
  function ms(x) { return x == null ? "–" : x >= 100 ? x.toFixed(0) + " ms" : x >= 1 ? x.toFixed(1) + " ms" : x.toFixed(3) + " ms"; }
  function plural(n, w) { return n + " " + w + (n === 1 ? "" : "s"); }
  function nKids(n) { return n + (n === 1 ? " child" : " children"); }

  /* "/layer4/layer4.1/conv2/conv2.0/Conv" -> "layer4.1.conv2.0"; "/fc/Gemm" -> "fc" */
  var OPS = /^(Conv|Gemm|MatMul|ConvTranspose|Add|Relu|BatchNormalization)(_\d+)?$/;
  function shortLayer(name) {
    if (!name) return "?";
    var s = String(name).split("/").filter(function (x) { return x; });
    if (s.length > 1 && OPS.test(s[s.length - 1])) s.pop();
    var out = s.filter(function (x, i) { return !(i + 1 < s.length && s[i + 1].indexOf(x + ".") === 0); });
    return out.join(".") || String(name);
  }
  function classLabel(c) {
    if (!c) return "?";
    return c.label != null && c.label !== "" ? String(c.label) : "class " + c.index;
  }

  /* An animated thumbnail: an <img> of the GIF. */
  function thumb(m, alt) {
    if (!m || !m.gif) return null;
    return el("img", { src: m.gif, alt: alt || "", title: alt || "", draggable: "false" });
  }
  /* A large map: the MP4 in a looping muted <video>, the GIF when the MP4 is
   * missing or cannot be played. */
  function media(m, alt) {
    if (!m || (!m.gif && !m.mp4)) return null;
    if (!m.mp4) return el("img", { cls: "media", src: m.gif, alt: alt || "" });
    var v = el("video", { cls: "media", autoplay: true, loop: true, muted: true, playsinline: true,
                          preload: "auto", poster: m.gif || null, title: alt || "" });
    v.muted = true;
    var fellBack = false;
    v.addEventListener("error", function () {
      if (fellBack || !m.gif) return;
      fellBack = true;
      var img = el("img", { cls: "media", src: m.gif, alt: alt || "" });
      if (v.parentNode) v.parentNode.replaceChild(img, v);
    });
    v.src = m.mp4;
    return v;
  }

  /* ---- data ---------------------------------------------------------------- */

  var nodes = [], byId = new Map(), levels = [], outE = new Map(), inE = new Map();
  var layerInfo = new Map(), levelInfo = new Map();
  var maxLevel = 0, nRendered = 0;

  function hasPics(n) { return !!(n.kernel || n.own); }

  function prepare() {
    nodes = R.nodes || [];
    nodes.forEach(function (n) {
      byId.set(n.id, n);
      outE.set(n.id, []);
      inE.set(n.id, []);
      if (n.level > maxLevel) maxLevel = n.level;
      if (hasPics(n)) nRendered++;
    });
    (R.edges || []).forEach(function (e) {
      if (!byId.has(e.parent) || !byId.has(e.child)) return;
      outE.get(e.parent).push(e);
      inE.get(e.child).push(e);
    });
    outE.forEach(function (l) { l.sort(function (a, b) { return b.score - a.score || a.child - b.child; }); });
    inE.forEach(function (l) { l.sort(function (a, b) { return b.score - a.score || a.parent - b.parent; }); });
    (R.layers || []).forEach(function (l) { layerInfo.set(l.name, l); });
    (R.levels || []).forEach(function (l) { levelInfo.set(l.level, l); });
    for (var d = 0; d <= maxLevel; d++) levels.push([]);
    nodes.forEach(function (n) {
      if (n.score == null) {
        var best = 0;
        inE.get(n.id).forEach(function (e) { if (e.score > best) best = e.score; });
        n.score = n.level === 0 ? 1 : best;
      }
      levels[n.level].push(n);
    });
    /* best first: with pictures, by score, by number of parents, by id */
    levels.forEach(function (l) {
      l.sort(function (a, b) {
        return (hasPics(b) - hasPics(a)) || (b.score - a.score) ||
               ((b.n_parents || 0) - (a.n_parents || 0)) || (a.id - b.id);
      });
    });
  }

  /* ---- header, clip, prediction, run ---------------------------------------- */

  function drawHeader() {
    var c = R["class"] || {};
    $("title").textContent = classLabel(c) + " — " + pct(c.prob);
    document.title = "cfp — " + classLabel(c);
    var inp = Array.isArray(R.input) ? R.input.join(", ") : R.input;
    $("subtitle").textContent = "model " + (R.model || "?") + " · input " + (inp || "?");
  }

  function drawClip() {
    var clip = R.clip || {};
    var m = media(clip, "the clip");
    $("clip").appendChild(m || el("div", { cls: "nomap", text: "no clip" }));
    var bits = [];
    if (clip.frames) bits.push(clip.frames + " frames");
    if (clip.width && clip.height) bits.push(clip.width + "×" + clip.height);
    if (clip.fps) bits.push(fmt(clip.fps, clip.fps % 1 ? 2 : 0) + " fps");
    $("clip-info").textContent = bits.join(" · ") + (bits.length ? " — as the model saw it" : "");
    /* the class map mapped back onto the frames as recorded (video inputs) */
    if (R.source && (R.source.mp4 || R.source.png)) {
      var src = media({ mp4: R.source.mp4, gif: R.source.png }, "the class map on the original frames");
      if (src) {
        $("clip").appendChild(el("div", { cls: "muted", text: "class map on the frames as recorded:" }));
        $("clip").appendChild(src);
      }
    }
  }

  function drawTop() {
    var top = (R.top && R.top.length ? R.top : [R["class"]]).filter(Boolean).slice(0, 5);
    var cls = R["class"] || {};
    var box = $("top5");
    top.forEach(function (t) {
      var w = Math.max(0, Math.min(1, t.prob || 0));
      box.appendChild(el("div", { cls: "bar-row" + (t.index === cls.index ? " chosen" : ""),
                                  title: classLabel(t) + ": p " + fmt(t.prob, 4) + ", logit " + fmt(t.logit, 4) },
        [el("div", { cls: "lbl", text: classLabel(t) }),
         el("div", { cls: "bar" }, [el("div", { style: "width:" + (100 * w).toFixed(1) + "%" })]),
         el("div", { cls: "val", text: pct(t.prob) })]));
    });
    box.appendChild(el("div", { cls: "logit muted",
      text: "Explained: " + classLabel(cls) + " (index " + cls.index + ", logit " + fmt(cls.logit, 4) + ")" }));
  }

  function drawRun() {
    var p = R.params || {};
    var mc = p.max_children ? String(p.max_children) : "no limit";
    $("params").appendChild(el("dl", { cls: "kv" }, [
      el("dt", { text: "θ (theta)" }), el("dd", { text: fmt(p.theta, 2) + " — children keep a scaled score ≥ θ" }),
      el("dt", { text: "depth" }), el("dd", { text: p.depth + " back-steps" }),
      el("dt", { text: "max children" }), el("dd", { text: mc }),
      el("dt", { text: "pyramid" }), el("dd", { text: plural(nodes.length, "node") + ", " + plural((R.edges || []).length, "edge") })]));
    var t = R.timing_ms || {};
    var parts = [["decode", "decode + preprocess"], ["forward", "forward"], ["backstep", "back-step"],
                 ["render", "render"], ["write", "write"]];
    var total = parts.reduce(function (s, q) { return s + (t[q[0]] || 0); }, 0);
    var bar = el("div", { cls: "tbar", title: "total " + ms(total) });
    var leg = el("div", { cls: "tlegend" });
    parts.forEach(function (q, i) {
      var v = t[q[0]] || 0;
      if (total > 0 && v > 0) bar.appendChild(el("div", { cls: "t" + i, style: "width:" + (100 * v / total) + "%", title: q[1] + " " + ms(v) }));
      leg.appendChild(el("span", { cls: "sw t" + i }));
      leg.appendChild(el("span", { text: q[1] }));
      leg.appendChild(el("span", { cls: "ms", text: ms(v) }));
    });
    leg.appendChild(el("span"));
    leg.appendChild(el("b", { text: "total" }));
    leg.appendChild(el("b", { cls: "ms", text: ms(total) }));
    $("timing").appendChild(el("div", { cls: "muted", style: "font-size:12px;margin-bottom:3px", text: "Timing" }));
    $("timing").appendChild(bar);
    $("timing").appendChild(leg);
  }

  /* ---- the graph --------------------------------------------------------------- */

  var shown = [];            /* per level: number of nodes shown (from the best) */
  var pinned = new Set();    /* nodes shown because they were opened */
  var pos = new Map();       /* id -> {x, y, w, el} of shown nodes (canvas coordinates) */
  var edgePaths = [];        /* [{e, path}] */
  var selected = null, hovered = null;
  var inner, svg, canvasWidth = 0;

  function nodeWidth(n) { return n.level === 0 ? CLS_W : hasPics(n) ? NODE_W : DOT_W; }

  function nodeTitle(n) {
    return n.level === 0 ? classLabel(R["class"]) : shortLayer(n.layer) + " : " + n.channel;
  }

  function visibleOf(d) {
    var l = levels[d], k = Math.min(l.length, shown[d]);
    var vis = l.slice(0, k);
    for (var i = k; i < l.length; i++) if (pinned.has(l[i].id)) vis.push(l[i]);
    return vis;
  }

  function layoutAndDraw() {
    inner = $("graph-inner");
    inner.textContent = "";
    pos.clear();
    edgePaths = [];
    var rows = [], widest = 0;
    var xOf = new Map();
    for (var d = 0; d <= maxLevel; d++) {
      var vis = visibleOf(d);
      /* order by the mean x of shown parents above (fewer crossings), then by rank */
      var rank = new Map();
      vis.forEach(function (n, i) { rank.set(n.id, i); });
      var bary = new Map();
      vis.forEach(function (n) {
        var s = 0, c = 0;
        inE.get(n.id).forEach(function (e) {
          var px = xOf.get(e.parent);
          if (px != null && byId.get(e.parent).level < n.level) { s += px * (0.2 + e.score); c += 0.2 + e.score; }
        });
        bary.set(n.id, c ? s / c : Infinity);
      });
      /* equal positions (e.g. all under one parent): the best in the middle,
       * then alternately right and left of it */
      var key = new Map();
      vis.forEach(function (n) {
        var r = rank.get(n.id), b0 = bary.get(n.id);
        key.set(n.id, (b0 === Infinity ? 0 : b0) + 1e-6 * (r % 2 ? -1 : 1) * Math.ceil(r / 2) + 1e-9 * r);
      });
      vis.sort(function (a, b) { return key.get(a.id) - key.get(b.id); });
      var hidden = levels[d].length - vis.length;
      var w = 0;
      vis.forEach(function (n) { w += nodeWidth(n) + GAP_X; });
      if (hidden > 0) w += MORE_W + GAP_X;
      rows.push({ d: d, vis: vis, hidden: hidden, w: w });
      widest = Math.max(widest, w);
      /* provisional x for the next level's ordering (centred later) */
      var x = -w / 2;
      vis.forEach(function (n) { xOf.set(n.id, x + nodeWidth(n) / 2); x += nodeWidth(n) + GAP_X; });
    }
    var avail = Math.max(300, $("graph-scroll").clientWidth - HEAD_W - 2);
    var canvasW = Math.max(avail, widest + 2 * PAD_X);
    var totalH = rows.length * (ROW_H + ROW_GAP) - ROW_GAP + 16;
    inner.style.width = (HEAD_W + canvasW) + "px";
    /* left: one sticky column of row heads; right: the canvas (edges under nodes) */
    var heads = el("div", { cls: "heads", style: "width:" + HEAD_W + "px;height:" + totalH + "px" });
    var canvas = el("div", { cls: "canvas", style: "width:" + canvasW + "px;height:" + totalH + "px" });
    inner.appendChild(heads);
    inner.appendChild(canvas);
    svg = svgEl("svg", { "class": "edges", width: canvasW, height: totalH });
    canvas.appendChild(svg);
    canvasWidth = canvasW;

    rows.forEach(function (r, ri) {
      var top = 8 + ri * (ROW_H + ROW_GAP);
      var head = rowHead(r.d);
      head.style.top = top + "px";
      heads.appendChild(head);
      var x = (canvasW - r.w) / 2 + GAP_X / 2;
      r.vis.forEach(function (n) {
        var w = nodeWidth(n);
        var b = nodeEl(n);
        var y = top + (n.level === 0 ? 0 : hasPics(n) ? 8 : 36);
        b.style.left = x + "px";
        b.style.top = y + "px";
        canvas.appendChild(b);
        pos.set(n.id, { x: x + w / 2, top: y, bottom: y + 100, el: b });
        x += w + GAP_X;
      });
      if (r.hidden > 0) {
        var mb = el("button", { cls: "more", type: "button", style: "left:" + x + "px;top:" + (top + 26) + "px",
                                title: "show " + Math.min(MORE_STEP, r.hidden) + " more of level " + r.d,
                                onclick: function () { shown[r.d] += MORE_STEP; relayout(); } },
          [el("b", { text: "+" + r.hidden }), "more"]);
        canvas.appendChild(mb);
      }
    });

    pos.forEach(function (p) { p.bottom = p.top + p.el.offsetHeight; });  /* one reflow */

    /* edges between shown nodes, thin and faint to thick and dark by score */
    var frag = document.createDocumentFragment();
    pos.forEach(function (pp, id) {
      outE.get(id).forEach(function (e) {
        var pc = pos.get(e.child);
        if (!pc || e.child === id) return;
        var x1 = pp.x, y1 = pp.bottom, x2 = pc.x, y2 = pc.top;
        var dy = Math.max(30, Math.abs(y2 - y1) * 0.5);
        if (y2 <= y1) { y1 = pp.bottom; y2 = pc.bottom; dy = 60; }  /* edge to a node at the same or an upper level */
        var d = "M" + x1.toFixed(1) + "," + y1.toFixed(1) + " C" + x1.toFixed(1) + "," + (y1 + dy).toFixed(1) +
                " " + x2.toFixed(1) + "," + (y2 > y1 ? y2 - dy : y2 + dy).toFixed(1) + " " + x2.toFixed(1) + "," + y2.toFixed(1);
        var s = Math.max(0, Math.min(1, e.score || 0));
        var path = svgEl("path", { d: d, "stroke-width": (0.6 + 4.4 * s).toFixed(2),
                                   "stroke-opacity": (0.18 + 0.6 * s).toFixed(2) });
        path.appendChild(svgEl("title", {})).textContent = "score " + fmt(e.score, 3) + ", contribution " + fmt(e.contribution, 4);
        frag.appendChild(path);
        edgePaths.push({ e: e, path: path });
      });
    });
    svg.appendChild(frag);
    highlight(hovered != null ? hovered : selected);
    if (selected != null && pos.has(selected)) pos.get(selected).el.classList.add("selected");
  }

  function relayout() {
    var sc = $("graph-scroll"), l = sc.scrollLeft, t = sc.scrollTop;
    layoutAndDraw();
    sc.scrollLeft = l;
    sc.scrollTop = t;
  }

  function rowHead(d) {
    var h = el("div", { cls: "rowhead", style: "width:" + HEAD_W + "px;height:" + ROW_H + "px" });
    var lv = levels[d], nLayers = new Set(lv.map(function (n) { return n.layer; })).size;
    var nPics = lv.filter(hasPics).length;
    var text = el("div", { cls: "rh-text" });
    if (d === 0) {
      text.appendChild(el("b", { text: "class" }));
      text.appendChild(document.createTextNode(lv.length > 1 ? plural(lv.length, "class node") : "the classifier's kernel"));
      var base = R.baseline && thumb(R.baseline, "Saliency Tubes (baseline): Σ w_fc[class, c]·A_c");
      if (base) h.appendChild(el("figure", {}, [base, "Saliency Tubes"]));
    } else {
      text.appendChild(el("b", { text: "level " + d }));
      text.appendChild(document.createTextNode(plural(lv.length, "kernel") + " in " + plural(nLayers, "layer")));
      if (nPics < lv.length) text.appendChild(el("div", { cls: "muted", text: nPics + " with pictures" }));
      var li = levelInfo.get(d);
      var t = li && thumb(li, "level " + d + ": layer-wise tube (own maps weighted by number of parents)");
      if (t) h.appendChild(el("figure", {}, [t, "level-wise"]));
    }
    h.appendChild(text);
    return h;
  }

  function nodeEl(n) {
    var cls = "node" + (n.level === 0 ? " cls" : hasPics(n) ? "" : " dot");
    var tip = (n.level === 0 ? classLabel(R["class"]) + " — " : "") + n.layer + " : channel " + n.channel +
              "\nlevel " + n.level + ", score " + fmt(n.score, 3) + ", " + plural(n.n_parents || 0, "parent") +
              ", " + nKids(outE.get(n.id).length);
    var b = el("button", { cls: cls, type: "button", title: tip, "data-id": n.id,
                           onclick: function () { select(n.id, true); },
                           onmouseenter: function () { hovered = n.id; highlight(n.id); },
                           onmouseleave: function () { hovered = null; highlight(selected); } });
    if (hasPics(n)) b.appendChild(thumb(n.kernel || n.own, nodeTitle(n)));
    else b.appendChild(el("div", { cls: "d" }));
    if (n.level === 0) {
      b.appendChild(el("div", { cls: "nl", text: classLabel(R["class"]) }));
      b.appendChild(el("div", { cls: "ns", text: shortLayer(n.layer) + " : " + n.channel }));
    } else if (hasPics(n)) {
      b.appendChild(el("div", { cls: "nl", text: shortLayer(n.layer) }));
      b.appendChild(el("div", { cls: "ns", text: "#" + n.channel + " · " + fmt(n.score, 2) }));
    } else {
      b.appendChild(el("div", { cls: "ns", text: "#" + n.channel }));
    }
    return b;
  }

  function highlight(id) {
    if (!inner || !svg) return;
    inner.querySelectorAll(".rel-parent,.rel-child,.rel-self").forEach(function (x) {
      x.classList.remove("rel-parent", "rel-child", "rel-self");
    });
    edgePaths.forEach(function (p) { p.path.classList.remove("up", "down"); });
    if (id == null || !byId.has(id)) {
      inner.classList.remove("focus");
      svg.classList.remove("focus");
      return;
    }
    inner.classList.add("focus");
    svg.classList.add("focus");
    var self = pos.get(id);
    if (self) self.el.classList.add("rel-self");
    edgePaths.forEach(function (p) {
      if (p.e.child === id) { p.path.classList.add("up"); var q = pos.get(p.e.parent); if (q) q.el.classList.add("rel-parent"); }
      else if (p.e.parent === id) { p.path.classList.add("down"); var c = pos.get(p.e.child); if (c) c.el.classList.add("rel-child"); }
    });
    /* draw the highlighted edges on top */
    edgePaths.forEach(function (p) { if (p.path.classList.contains("up") || p.path.classList.contains("down")) svg.appendChild(p.path); });
  }

  /* ---- the panel --------------------------------------------------------------- */

  function select(id, fromGraph) {
    var n = byId.get(id);
    if (!n) return;
    selected = id;
    var needLayout = false;
    if (!pos.has(id)) { pinned.add(id); needLayout = true; }
    if (needLayout) relayout();
    inner.querySelectorAll(".node.selected").forEach(function (x) { x.classList.remove("selected"); });
    var p = pos.get(id);
    if (p) {
      p.el.classList.add("selected");
      if (!fromGraph && p.el.scrollIntoView) p.el.scrollIntoView({ block: "nearest", inline: "center" });
    }
    highlight(hovered != null ? hovered : id);
    drawPanel(n);
    if (!selftestMode && history.replaceState) history.replaceState(null, "", "#node=" + id);
  }

  function chip(e, kind) {
    var other = byId.get(kind === "parent" ? e.parent : e.child);
    var name = other.level === 0 ? classLabel(R["class"]) : shortLayer(other.layer) + " : " + other.channel;
    return el("button", { cls: "chip " + kind, type: "button", "data-id": other.id,
                          title: other.layer + " : " + other.channel + " (level " + other.level + "), edge score " +
                                 fmt(e.score, 3) + ", contribution " + fmt(e.contribution, 4),
                          onclick: function () { select(other.id, false); } },
      [name, el("span", { cls: "sc", text: fmt(e.score, 2) })]);
  }

  function chipList(list, kind) {
    var box = el("div", { cls: "chips" });
    function fill(k) {
      box.textContent = "";
      list.slice(0, k).forEach(function (e) { box.appendChild(chip(e, kind)); });
      if (list.length > k) box.appendChild(el("button", { cls: "chip", type: "button", text: "show all " + list.length,
                                                           onclick: function () { fill(list.length); } }));
    }
    fill(MAX_CHIPS);
    if (!list.length) box.appendChild(el("span", { cls: "muted", text: "none" }));
    return box;
  }

  function mapFigure(m, caption, sub, alt) {
    var v = media(m, alt);
    return el("figure", {}, [
      v || el("div", { cls: "nomap", text: "not rendered — pictures are made for the best " +
                                           "nodes of each level only" }),
      el("figcaption", {}, [el("b", { text: caption }), el("small", { text: sub })])]);
  }

  function drawPanel(n) {
    var panel = $("panel");
    panel.textContent = "";
    panel.classList.add("open");
    panel.setAttribute("data-node", String(n.id));
    var li = layerInfo.get(n.layer) || {};
    var isCls = n.level === 0;
    panel.appendChild(el("div", { cls: "muted", style: "font-size:12px",
      text: isCls ? "class node · level 0" : "kernel · level " + n.level }));
    panel.appendChild(el("h2", { id: "panel-title", text: isCls ? classLabel(R["class"]) : shortLayer(n.layer) + " : " + n.channel }));
    panel.appendChild(el("div", { cls: "full mono", text: n.layer + " : channel " + n.channel }));
    var ks = li.kernel_shape && li.kernel_shape.length ? li.kernel_shape.join("×") : "";
    var kids = outE.get(n.id), pars = inE.get(n.id);
    panel.appendChild(el("dl", { cls: "kv" }, [
      el("dt", { text: "score" }), el("dd", { text: isCls ? "1 (class)" : fmt(n.score, 3) }),
      el("dt", { text: "pooled act." }), el("dd", { text: fmt(n.pooled_activation, 4) }),
      el("dt", { text: "parents" }), el("dd", { text: String(n.n_parents != null ? n.n_parents : pars.length) }),
      el("dt", { text: "children" }), el("dd", { text: String(kids.length) }),
      el("dt", { text: "op" }), el("dd", { text: (li.op || "?") + (ks ? " " + ks : "") + (li.group > 1 ? ", group " + li.group : "") }),
      el("dt", { text: "channels" }), el("dd", { text: li.in_channels != null ? li.in_channels + " → " + li.out_channels : "–" }),
      el("dt", { text: "output" }), el("dd", { text: li.output_shape ? li.output_shape.join("×") : "–" })]));
    panel.appendChild(el("div", { cls: "maps" }, [
      mapFigure(n.own, isCls ? "own map" : "own map", isCls ? "the class's Saliency Tubes CAM" : "this kernel's output channel",
                "own map of " + nodeTitle(n)),
      mapFigure(n.kernel, "kernel-wise map", "mean of the maps of its " + nKids(kids.length), "kernel-wise map of " + nodeTitle(n))]));
    var rel = el("div", { cls: "rel" });
    rel.appendChild(el("h3", {}, [el("span", { cls: "k-parent", text: "Parents" }), " ",
      el("span", { cls: "muted", text: "(" + pars.length + ", edge score)" })]));
    rel.appendChild(chipList(pars, "parent"));
    rel.appendChild(el("h3", {}, [el("span", { cls: "k-child", text: "Children" }), " ",
      el("span", { cls: "muted", text: "(" + kids.length + (n.level >= maxLevel && !kids.length ? ", a leaf: depth reached" : "") + ", edge score)" })]));
    rel.appendChild(chipList(kids, "child"));
    panel.appendChild(rel);
  }

  /* ---- level-wise tubes, layers, warnings, files ----------------------------- */

  /* " · slow pathway" for a map of a two-pathway model */
  function pathSuffix(p) {
    var pw = R.pathways;
    if (!pw || pw.length < 2 || p == null || !pw[p]) return "";
    return " · " + (pw[p].input || "input " + p) + " pathway";
  }

  function tubeFig(m, caption, sub, main) {
    var t = thumb(m, caption);
    if (!t) return null;
    return el("figure", { cls: main ? "main" : "" }, [t, el("figcaption", {}, [el("b", { text: caption }), sub ? el("div", { cls: "muted", text: sub }) : null])]);
  }

  function drawLevels() {
    var box = $("levels");
    var lvls = (R.levels || []).slice().sort(function (a, b) { return a.level - b.level; });
    if (!lvls.length) { box.appendChild(el("p", { cls: "muted", text: "No level maps in this report." })); return; }
    lvls.forEach(function (lv) {
      var ns = levels[lv.level] || [];
      var count = new Map();
      ns.forEach(function (n) { count.set(n.layer, (count.get(n.layer) || 0) + 1); });
      var tubes = el("div", { cls: "tubes" });
      var lvName = lv.level === 0 ? "class level" : "level " + lv.level;
      tubes.appendChild(tubeFig(lv, lvName + pathSuffix(lv.path), "all " + plural(ns.length, "kernel"), true));
      /* two-pathway models: the level's map over each other pathway */
      (lv.pathways || []).forEach(function (pw) {
        tubes.appendChild(tubeFig(pw.files, lvName + pathSuffix(pw.path), "its kernels on this pathway", true));
      });
      if (lv.level === 0 && R.baseline) {
        tubes.appendChild(tubeFig(R.baseline, "Saliency Tubes" + pathSuffix(R.baseline_path), "baseline CAM", true));
        (R.baseline_pathways || []).forEach(function (pw) {
          tubes.appendChild(tubeFig(pw.files, "Saliency Tubes" + pathSuffix(pw.path), "baseline CAM", true));
        });
      }
      (lv.layers || []).forEach(function (l) {
        var c = count.get(l.name) || 0;
        tubes.appendChild(tubeFig(l, shortLayer(l.name), plural(c, "kernel") + pathSuffix(l.path), false));
      });
      box.appendChild(el("div", { cls: "level-row" }, [
        el("h3", { text: lv.level === 0 ? "Class level" : "Level " + lv.level + " — " + plural(ns.length, "kernel") + " in " +
                   plural((lv.layers || []).length || count.size, "layer") }), tubes]));
    });
  }

  function drawLayers() {
    var used = new Map();
    nodes.forEach(function (n) { used.set(n.layer, (used.get(n.layer) || 0) + 1); });
    var t = el("table", { cls: "layers" });
    t.appendChild(el("tr", {}, ["layer", "op", "kernel", "group", "in → out", "output", "nodes"].map(function (h) { return el("th", { text: h }); })));
    (R.layers || []).forEach(function (l) {
      t.appendChild(el("tr", {}, [
        el("td", { cls: "mono", text: l.name, title: shortLayer(l.name) }), el("td", { text: l.op }),
        el("td", { text: (l.kernel_shape || []).join("×") || "–" }), el("td", { cls: "num", text: String(l.group) }),
        el("td", { cls: "num", text: l.in_channels + " → " + l.out_channels }),
        el("td", { text: (l.output_shape || []).join("×") }), el("td", { cls: "num", text: String(used.get(l.name) || 0) })]));
    });
    $("layers").appendChild(t);
  }

  function drawWarnings() {
    var w = R.warnings || [];
    if (!w.length) return;
    $("warnings-section").hidden = false;
    w.forEach(function (s) { $("warnings").appendChild(el("li", { text: s })); });
  }

  function drawFiles() {
    var f = $("files");
    var links = [["pyramid.json", "pyramid.json"], ["data.js", "data.js"]];
    if (R.figure) {
      if (R.figure.png) links.push([R.figure.png, "figure (PNG)"]);
      if (R.figure.gif) links.push([R.figure.gif, "figure (animated GIF)"]);
    }
    if (R.clip && R.clip.mp4) links.push([R.clip.mp4, "clip (MP4)"]);
    if (R.baseline && R.baseline.mp4) links.push([R.baseline.mp4, "Saliency Tubes (MP4)"]);
    links.forEach(function (l) { f.appendChild(el("a", { href: l[0], text: l[1] })); });
    if (R.figure && (R.figure.png || R.figure.gif)) {
      var d = el("details", {}, [el("summary", { text: "Static figure of the pyramid" }),
        el("img", { cls: "figure-prev", src: R.figure.png || R.figure.gif, alt: "the pyramid as a figure" })]);
      f.appendChild(d);
    }
  }

  function drawSummary() {
    var nE = (R.edges || []).length;
    var rendered = R.rendered_nodes != null ? R.rendered_nodes : nRendered;
    var s = plural(nodes.length, "node") + " in " + plural(maxLevel + 1, "level") + ", " + plural(nE, "edge") + ". ";
    if (rendered < nodes.length) s += "Pictures for " + rendered + " (the best of each level); the other " +
                                      (nodes.length - rendered) + " are dots. ";
    var hidden = 0;
    for (var d = 0; d <= maxLevel; d++) hidden += Math.max(0, levels[d].length - shown[d]);
    if (hidden) s += "Showing the best " + PER_LEVEL + " per level; “+N more” shows the rest.";
    $("pyr-summary").textContent = s;
  }

  /* ---- start -------------------------------------------------------------------- */

  var selftestMode = location.hash === "#selftest";

  var t0 = performance.now(), loadMs = 0;

  function main() {
    if (!R) {
      $("title").textContent = "No report data";
      $("subtitle").textContent = "data.js is missing or did not load; it must sit next to index.html.";
      console.error("cfp report: window.CFP_REPORT is not defined (data.js missing?)");
      return;
    }
    prepare();
    for (var d = 0; d <= maxLevel; d++) shown.push(d === 0 ? Infinity : PER_LEVEL);
    drawHeader();
    drawClip();
    drawTop();
    drawRun();
    drawSummary();
    layoutAndDraw();
    var sc = $("graph-scroll");
    sc.scrollLeft = Math.max(0, (HEAD_W + canvasWidth - sc.clientWidth) / 2 - HEAD_W / 2);
    drawLevels();
    drawLayers();
    drawWarnings();
    drawFiles();
    var m = /^#node=(\d+)$/.exec(location.hash);
    if (m && byId.has(+m[1])) select(+m[1], false);
    var resizeTimer = 0;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(relayout, 150);
    });
  }

  try {
    main();
  } catch (e) {
    console.error("cfp report: " + (e && e.stack || e));
  }
  loadMs = Math.round(performance.now() - t0);

  /* ---- self-test -----------------------------------------------------------------
   * index.html#selftest: after the page is drawn, click a node (the best one
   * below the class, or the class node), check that its panel opened, wait for
   * every <img> to load (or fail, 8 s at most), then write
   *   <pre id="selftest">{"ok":..,"errors":[..],"images":n,"broken":[..],"panel":..,"node":id,"edges":n}</pre>
   * ok means: no console errors, at least one image and none broken, the panel
   * opened on the clicked node, and edges drawn when shown nodes are linked. */
  function selftest() {
    var st = window.CFP_SELFTEST || { errors: [], failed: [] };
    var res = { ok: false, errors: st.errors, images: 0, broken: [], panel: false, node: null,
                nodes: nodes.length, edges: edgePaths.length, draw_ms: loadMs };
    try {
      var target = null;
      if (R && levels.length) target = (levels[1] && levels[1][0]) || levels[0][0];
      if (target && pos.has(target.id)) {
        res.node = target.id;
        pos.get(target.id).el.click();
        var panel = $("panel"), title = $("panel-title");
        var want = target.level === 0 ? classLabel(R["class"]) : shortLayer(target.layer) + " : " + target.channel;
        res.panel = panel.classList.contains("open") && panel.getAttribute("data-node") === String(target.id) &&
                    !!title && title.textContent === want &&
                    panel.querySelectorAll(".chip.parent").length === Math.min(MAX_CHIPS, inE.get(target.id).length) &&
                    panel.getBoundingClientRect().height > 0;
      } else {
        res.errors.push("selftest: no node to click");
      }
    } catch (e) {
      res.errors.push("selftest: " + e);
    }
    var imgs = Array.prototype.slice.call(document.images);
    var left = imgs.length, done = false;
    function finish() {
      if (done) return;
      done = true;
      imgs.forEach(function (i) {
        if (!(i.complete && i.naturalWidth > 0)) res.broken.push(i.getAttribute("src"));
      });
      res.images = imgs.length;
      var linked = false;
      pos.forEach(function (p, id) { outE.get(id).forEach(function (e) { if (pos.has(e.child)) linked = true; }); });
      res.edges = edgePaths.length;
      var vids = document.querySelectorAll("video");
      res.videos = vids.length;  /* informational: MP4s this browser decoded (the rest fell back to GIFs) */
      res.videos_playing = Array.prototype.filter.call(vids, function (v) { return v.readyState >= 2; }).length;
      res.ok = res.errors.length === 0 && res.images > 0 && res.broken.length === 0 && res.panel &&
               (!linked || res.edges > 0);
      var pre = el("pre", { id: "selftest", text: JSON.stringify(res) });
      document.body.appendChild(pre);
      document.title = "selftest " + (res.ok ? "ok" : "FAILED");
    }
    function one() { if (--left <= 0) finish(); }
    if (!left) finish();
    imgs.forEach(function (i) {
      if (i.complete) one();
      else {
        i.addEventListener("load", one);
        i.addEventListener("error", one);
      }
    });
    setTimeout(finish, 8000);
  }

  if (selftestMode) {
    if (document.readyState === "complete") setTimeout(selftest, 0);
    else window.addEventListener("load", function () { setTimeout(selftest, 0); });
  }
})();
