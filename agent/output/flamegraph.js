// SPDX-License-Identifier: Apache-2.0
// Embedded in every flame graph fornax writes (agent/flamegraph.c). The
// frames are static SVG, so the picture shows without this script; it adds
// zoom, search and the details line. Each frame is <g data-n=COUNT> holding
// <title> (name, then details), <rect> and maybe <text>, in pre-order with
// children left to right, so every frame's offset in samples is recomputed
// exactly here from the counts (pixel positions would lose precision when
// zooming deep).
(function () {
	"use strict";
	var svg = document.documentElement;
	var NS = "http://www.w3.org/2000/svg";
	var $ = function (id) { return document.getElementById(id); };
	var frames = $("frames");
	var X0 = +svg.getAttribute("data-x0"), W = +svg.getAttribute("data-w");
	var TOTAL = +svg.getAttribute("data-total"), UNIT = svg.getAttribute("data-unit");
	var FH = +frames.getAttribute("data-fh"), Y0 = +frames.getAttribute("data-y0");
	var DIR = +frames.getAttribute("data-dir");
	var CW = +frames.getAttribute("data-cw");
	var details = $("details"), matched = $("matched");
	var resetBtn = $("reset"), searchBtn = $("search"), clearBtn = $("clear");
	var F = [], zoomed = 0, lastSearch = "";

	function fmt(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
	function pct(n, of) { return (100 * n / of).toFixed(2) + "%"; }

	// Document order is pre-order: a stack of open ancestors gives each frame
	// its parent, and the parent's cursor gives its offset. Only what zoom
	// needs is read here; names and details are read when first wanted.
	(function load() {
		var stack = [];
		for (var g = frames.firstElementChild; g; g = g.nextElementSibling) {
			var title = g.firstElementChild, r = title.nextElementSibling;
			var d = Math.round((+r.getAttribute("y") - Y0) / (DIR * FH));
			var f = { g: g, title: title, r: r, t: r.nextElementSibling,
				  n: +g.getAttribute("data-n"), d: d, o: 0, cur: 0,
				  fill: r.getAttribute("fill"), _name: null,
				  cls: "", x: null, w: null };
			while (stack.length && stack[stack.length - 1].d >= d)
				stack.pop();
			if (stack.length) {
				var p = stack[stack.length - 1];
				f.o = p.o + p.cur;
				p.cur += f.n;
			}
			stack.push(f);
			g._i = F.length;
			F.push(f);
		}
	})();

	function nameOf(f) {
		if (f._name === null) {
			var s = f.title.textContent, nl = s.indexOf("\n");
			f._name = nl < 0 ? s : s.slice(0, nl);
		}
		return f._name;
	}

	function infoOf(f) {
		return f.title.textContent.split("\n").slice(1).join(" · ");
	}

	function label(f, x, w) {
		var chars = Math.floor((w - 6) / CW), s;
		if (chars < 3) {
			if (f.t) f.t.textContent = "";
			return;
		}
		s = nameOf(f);
		if (s.length > chars) s = s.slice(0, chars - 2) + "..";
		if (!f.t) {
			f.t = document.createElementNS(NS, "text");
			f.t.setAttribute("y", (+f.r.getAttribute("y") + FH - 4).toFixed(0));
			f.g.appendChild(f.t);
		}
		f.t.setAttribute("x", (x + 3).toFixed(2));
		if (f.t.textContent !== s) f.t.textContent = s;
	}

	// Attributes are written only when they change: a zoom into a small
	// frame hides most of the others, and a write costs a style update.
	function set(f, cls, x, w) {
		if (f.cls !== cls) {
			f.g.setAttribute("class", cls);
			f.cls = cls;
		}
		if (cls === "hide" || (f.x === x && f.w === w)) return;
		f.x = x; f.w = w;
		f.r.setAttribute("x", x.toFixed(2));
		f.r.setAttribute("width", w.toFixed(2));
		label(f, x, w);
	}

	// Zoom to frame i: it and what is above it fill the width, its ancestors
	// span the width dimmed, everything else is hidden.
	function zoom(i) {
		var z = F[i];
		for (var j = 0; j < F.length; j++) {
			var f = F[j];
			if (f.d < z.d && f.o <= z.o && f.o + f.n >= z.o + z.n)
				set(f, i ? "dim" : "", X0, W);
			else if (f.d >= z.d && f.o >= z.o && f.o + f.n <= z.o + z.n)
				set(f, "", X0 + (f.o - z.o) / z.n * W, f.n / z.n * W);
			else
				set(f, "hide", 0, 0);
		}
		zoomed = i;
		resetBtn.setAttribute("class", i ? "btn" : "btn hide");
	}

	function search(re) {
		var spans = [], n = 0, sum = 0, end = -1;
		for (var i = 0; i < F.length; i++) {
			var f = F[i], hit = re !== null && re.test(nameOf(f));
			f.r.setAttribute("fill", hit ? "#e040fb" : f.fill);
			if (hit) { spans.push([f.o, f.o + f.n]); n++; }
		}
		// A match inside another match must not count twice: merge the spans.
		spans.sort(function (a, b) { return a[0] - b[0]; });
		for (var k = 0; k < spans.length; k++) {
			var s = Math.max(spans[k][0], end);
			if (spans[k][1] > s) { sum += spans[k][1] - s; end = spans[k][1]; }
		}
		matched.textContent = re === null ? "" :
			"Matched: " + pct(sum, TOTAL) + " (" + fmt(n) + " frames)";
		clearBtn.setAttribute("class", re === null ? "btn hide" : "btn");
		svg.setAttribute("data-matched", re === null ? "" : (100 * sum / TOTAL).toFixed(4));
	}

	function ask() {
		var q = prompt("Search frames (regular expression)", lastSearch);
		if (q === null) return;
		lastSearch = q;
		if (q === "") { search(null); return; }
		try {
			search(new RegExp(q));
		} catch (e) {
			matched.textContent = "Invalid regular expression";
		}
	}

	frames.addEventListener("click", function (e) {
		var g = e.target.closest("g");
		if (g && g._i !== undefined) zoom(g._i);
	});
	frames.addEventListener("mouseover", function (e) {
		var g = e.target.closest("g");
		if (!g || g._i === undefined) return;
		var f = F[g._i], info = infoOf(f);
		details.textContent = nameOf(f) + (info ? " · " + info : "");
	});
	frames.addEventListener("mouseout", function () { details.textContent = " "; });
	resetBtn.addEventListener("click", function () { zoom(0); });
	searchBtn.addEventListener("click", ask);
	clearBtn.addEventListener("click", function () { lastSearch = ""; search(null); });
	document.addEventListener("keydown", function (e) {
		if ((e.ctrlKey || e.metaKey) && e.key === "f" || e.key === "/") {
			e.preventDefault();
			ask();
		} else if (e.key === "Escape") {
			zoom(0);
			search(null);
		}
	});
	window.fornaxFlame = { frames: F, zoom: zoom, search: search, name: nameOf,
			       zoomed: function () { return zoomed; } };
	svg.setAttribute("data-ready", "1");
})();
