// SPDX-License-Identifier: Apache-2.0
#include "flamegraph.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "array.h"
#include "flamegraph_js.h"
#include "utf8.h"

#define FRAME_H 16
#define FONT_PX 12
/* Average glyph width of the 12 px sans-serif font, a little generous so labels stay inside. */
#define CHAR_W 7.2
#define MARGIN 10
#define TOP 56
#define BOTTOM 40
#define DEFAULT_MIN_WIDTH 0.1
/* Measured: a 3 MB graph is interactive in about a second in headless Chromium here. */
#define DEFAULT_MAX_BYTES 3000000
/*
 * Bytes of markup per frame besides its strings (numbers included), and a
 * share of the merged blocks: about one per four drawn frames.
 */
#define FRAME_OVERHEAD 150
#define BLOCK_RESERVE 40

static const char style[] =
	"text{font:" "12px Verdana,'DejaVu Sans',sans-serif;fill:#000}"
	"#title{font-size:17px;font-weight:bold}"
	"#subtitle{fill:#555}"
	"#frames text{pointer-events:none}"
	"#frames rect:hover{stroke:#000;stroke-width:.5}"
	"#frames g{cursor:pointer}"
	".btn{cursor:pointer;fill:#1a55b8;text-decoration:underline}"
	".hide{display:none}"
	".dim{opacity:.55}";

static int flamegraph_buf_grow(struct flamegraph_buf *b, size_t more)
{
	if (more > SIZE_MAX - b->len - 1 || ARRAY_GROW(&b->buf, &b->cap, b->len + more + 1))
		return -ENOMEM;
	return 0;
}

static int put(struct flamegraph_buf *b, const char *s, size_t n)
{
	if (flamegraph_buf_grow(b, n))
		return -ENOMEM;
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return 0;
}

static int puts_(struct flamegraph_buf *b, const char *s)
{
	return put(b, s, strlen(s));
}

static int putf(struct flamegraph_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int putf(struct flamegraph_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || flamegraph_buf_grow(b, (size_t)n))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* Characters XML 1.0 allows in a document, minus the line breaks a title uses as separators. */
static bool xml_allowed(long cp)
{
	if (cp < 0)
		return false;
	if (cp < 0x20)
		return false;
	if (cp >= 0xd800 && cp <= 0xdfff)
		return false;
	return cp != 0xfffe && cp != 0xffff;
}

long flamegraph__escape(struct flamegraph_buf *b, const char *s, size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)s;
	long chars = 0;

	/* a string even when s is empty: callers print b->buf */
	if (flamegraph_buf_grow(b, 0))
		return -ENOMEM;
	b->buf[b->len] = '\0';
	while (*p && (!max_chars || (size_t)chars < max_chars)) {
		long cp;
		size_t n = utf8_decode(p, SIZE_MAX, &cp);
		int err;

		switch (cp) {
		case '<':
			err = put(b, "&lt;", 4);
			break;
		case '>':
			err = put(b, "&gt;", 4);
			break;
		case '&':
			err = put(b, "&amp;", 5);
			break;
		case '"':
			err = put(b, "&quot;", 6);
			break;
		case '\'':
			err = put(b, "&#39;", 5);
			break;
		default:
			err = xml_allowed(cp) ? put(b, (const char *)p, n) : put(b, "\xef\xbf\xbd", 3);
		}
		if (err)
			return -ENOMEM;
		p += n;
		chars++;
	}
	return chars;
}

/* Characters in s as flamegraph__escape counts them. */
static size_t utf8_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;
	long cp;

	while (*p) {
		p += utf8_decode(p, SIZE_MAX, &cp);
		n++;
	}
	return n;
}

/* Escaped size of s, close enough for a budget. */
static size_t escaped_len(const char *s)
{
	size_t n = 0;

	for (; s && *s; s++)
		n += (*s == '&' || *s == '<' || *s == '>' || *s == '"' || *s == '\'') ? 5 : 1;
	return n;
}

static void format_count(__s64 v, char *buf, size_t size)
{
	char digits[32];
	size_t n, out = 0;
	int len = snprintf(digits, sizeof(digits), "%" PRId64, (int64_t)v);

	if (len < 0)
		len = 0;
	n = (size_t)len;
	for (size_t i = 0; i < n && out + 2 < size; i++) {
		buf[out++] = digits[i];
		if (digits[i] != '-' && (n - i - 1) % 3 == 0 && i + 1 < n)
			buf[out++] = ',';
	}
	buf[out] = '\0';
}

/* Pixels with at most two decimals and no trailing zeros: "12.5", "3", "0.07". */
static void format_px(double v, char *buf, size_t size)
{
	size_t n;

	snprintf(buf, size, "%.2f", v);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	if (strcmp(buf, "-0") == 0)
		snprintf(buf, size, "0");
}

/* A stable colour per name within its kind's palette. */
static void frame_color(const char *name, enum flame_kind kind, char out[8])
{
	__u32 h = 2166136261u;
	double a, b, c;
	int r, g, bl;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	a = (h & 0xff) / 255.0;
	b = ((h >> 8) & 0xff) / 255.0;
	c = ((h >> 16) & 0xff) / 255.0;
	switch (kind) {
	case FLAME_KERNEL: /* blues */
		r = 70 + 50 * a, g = 135 + 55 * b, bl = 205 + 45 * c;
		break;
	case FLAME_JIT: /* greens */
		r = 60 + 70 * a, g = 175 + 60 * b, bl = 60 + 50 * c;
		break;
	case FLAME_PYTHON: /* teals */
		r = 40 + 50 * a, g = 170 + 45 * b, bl = 165 + 45 * c;
		break;
	case FLAME_UNKNOWN: /* greys */
		r = g = bl = 165 + 40 * a;
		break;
	case FLAME_PROCESS: /* violets */
		r = 165 + 35 * a, g = 145 + 35 * b, bl = 210 + 35 * c;
		break;
	case FLAME_ROOT:
		r = 205, g = 205, bl = 215;
		break;
	case FLAME_NATIVE: /* the classic warm reds, oranges and yellows */
	default:
		r = 205 + 50 * a, g = 40 + 170 * b, bl = 20 + 40 * c;
		break;
	}
	snprintf(out, 8, "#%02x%02x%02x", r & 0xff, g & 0xff, bl & 0xff);
}

static const char *kind_word(enum flame_kind kind)
{
	switch (kind) {
	case FLAME_KERNEL:
		return "kernel";
	case FLAME_JIT:
		return "JIT";
	case FLAME_PYTHON:
		return "Python";
	case FLAME_UNKNOWN:
		return "unknown";
	case FLAME_PROCESS:
		return "process";
	default:
		return NULL;
	}
}

struct layout {
	const struct flame *f;
	const struct flamegraph_opts *opts;
	double width;           /* of the frame area */
	double min_width;
	__s64 total;
	__s64 min_count;        /* blocks narrower than this are not drawn */
	unsigned char *visible; /* per node */
	__s64 *hidden_total;    /* per node: count of its children that are not drawn */
	size_t *hidden_nodes;   /* per node: how many nodes that is, subtrees included */
	size_t *subtree;        /* per node: nodes in its subtree, itself included */
	unsigned depth;         /* deepest row drawn */
	struct flamegraph_buf unit; /* escaped */
	int y0, dir;
	struct flamegraph_stats stats;
};

static size_t label_chars(double w)
{
	double chars = floor((w - 6) / CHAR_W);

	return chars >= 3 ? (size_t)chars : 0;
}

static size_t frame_cost(const struct layout *l, const struct flame_node *nd)
{
	double w = (double)nd->total / l->total * l->width;
	size_t label = label_chars(w), name = escaped_len(nd->name);

	return FRAME_OVERHEAD + BLOCK_RESERVE + name + escaped_len(nd->file) +
	       (label ? 30 + (label < name ? label : name) : 0);
}

struct rank {
	__s64 total;
	__u32 depth;
	size_t node;
};

static int compare_ranks(const void *a, const void *b)
{
	const struct rank *x = a, *y = b;

	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

/*
 * Chooses the frames to draw: at least min_width wide, then, if they would
 * take more than the budget, the widest ones (shallowest first among equals)
 * that fit. Both rules keep a frame's parent whenever they keep the frame,
 * because a parent is never narrower than its child and is shallower.
 */
static int choose_visible(struct layout *l)
{
	const struct flame *f = l->f;
	size_t n = flame__num_nodes(f), n_cand = 0, budget, used = 0;
	struct rank *ranks = NULL;
	__s64 base_min;

	budget = l->opts->max_bytes ? l->opts->max_bytes : DEFAULT_MAX_BYTES;
	base_min = (__s64)ceil(l->min_width / l->width * (double)l->total);
	if (base_min < 1)
		base_min = 1;
	l->min_count = base_min;
	for (size_t i = 0; i < n; i++) {
		const struct flame_node *nd = flame__node(f, i);

		l->visible[i] = i == 0 || nd->total >= base_min;
		if (l->visible[i]) {
			n_cand++;
			used += frame_cost(l, nd);
		}
	}
	l->stats.min_width = l->min_width;
	if (used <= budget)
		return 0;

	ranks = malloc(n_cand * sizeof(*ranks));
	if (!ranks)
		return -ENOMEM;
	n_cand = 0;
	for (size_t i = 0; i < n; i++) {
		if (l->visible[i]) {
			const struct flame_node *nd = flame__node(f, i);

			ranks[n_cand++] = (struct rank){ .total = nd->total, .depth = nd->depth, .node = i };
		}
	}
	qsort(ranks, n_cand, sizeof(*ranks), compare_ranks);
	used = 0;
	for (size_t i = 0; i < n_cand; i++) {
		size_t cost = frame_cost(l, flame__node(f, ranks[i].node));

		if (i > 0 && used + cost > budget) {
			for (size_t j = i; j < n_cand; j++)
				l->visible[ranks[j].node] = 0;
			l->stats.min_width = (double)ranks[i - 1].total / l->total * l->width;
			break;
		}
		used += cost;
	}
	free(ranks);
	return 0;
}

static int compute_hidden(struct layout *l)
{
	const struct flame *f = l->f;
	size_t n = flame__num_nodes(f);

	l->hidden_total = calloc(n, sizeof(*l->hidden_total));
	l->hidden_nodes = calloc(n, sizeof(*l->hidden_nodes));
	l->subtree = malloc(n * sizeof(*l->subtree));
	if (!l->hidden_total || !l->hidden_nodes || !l->subtree)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		l->subtree[i] = 1;
	/* Children come after their parent, so one backward pass sums subtrees. */
	for (size_t i = n; i-- > 1;) {
		const struct flame_node *nd = flame__node(f, i);

		l->subtree[nd->parent] += l->subtree[i];
		if (!l->visible[i] && l->visible[nd->parent]) {
			l->hidden_total[nd->parent] += nd->total;
			l->hidden_nodes[nd->parent] += l->subtree[i];
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (l->visible[i]) {
			unsigned d = flame__node(f, i)->depth;

			if (l->hidden_total[i] >= l->min_count)
				d++; /* its merged block is a row higher */
			if (d > l->depth)
				l->depth = d;
		} else {
			l->stats.hidden++;
		}
	}
	return 0;
}

static int frame_y(const struct layout *l, unsigned depth)
{
	return l->y0 + l->dir * (int)depth * FRAME_H;
}

/* One frame: <g data-n><title>name, details</title><rect/>[<text>label</text>]</g>. */
static int emit_frame(struct flamegraph_buf *b, const struct layout *l, const char *name,
		      const char *details, enum flame_kind kind, unsigned depth, __s64 offset,
		      __s64 count)
{
	double x = MARGIN + (double)offset / l->total * l->width;
	double w = (double)count / l->total * l->width;
	char xs[32], ws[32], cs[32], fill[8];
	size_t chars = label_chars(w);
	int err;

	format_px(x, xs, sizeof(xs));
	format_px(w, ws, sizeof(ws));
	format_count(count, cs, sizeof(cs));
	frame_color(name, kind, fill);
	err = putf(b, "<g data-n=\"%" PRId64 "\"><title>", (int64_t)count);
	if (!err && flamegraph__escape(b, name, 0) < 0)
		err = -ENOMEM;
	if (!err && details && *details)
		err = puts_(b, "&#10;") ?: puts_(b, details);
	if (!err)
		err = putf(b, "&#10;%s %s, %.2f%%</title><rect x=\"%s\" y=\"%d\" width=\"%s\" "
			   "height=\"%d\" fill=\"%s\"/>", cs, l->unit.buf, 100.0 * count / l->total, xs,
			   frame_y(l, depth), ws, FRAME_H - 1, fill);
	if (!err && chars) {
		size_t have = utf8_chars(name);
		char tx[32];

		format_px(x + 3, tx, sizeof(tx));
		err = putf(b, "<text x=\"%s\" y=\"%d\">", tx, frame_y(l, depth) + FRAME_H - 4);
		if (!err && flamegraph__escape(b, name, have > chars ? chars - 2 : 0) < 0)
			err = -ENOMEM;
		if (!err && have > chars)
			err = puts_(b, "..");
		if (!err)
			err = puts_(b, "</text>");
	}
	return err ?: puts_(b, "</g>\n");
}

/* The details line of a node's tooltip, escaped: kind, file:line or mapping. */
static int node_details(const struct flame_node *nd, struct flamegraph_buf *d)
{
	const char *word = kind_word(nd->kind);
	int err = 0;

	d->len = 0;
	if (d->buf)
		d->buf[0] = '\0';
	if (word && nd->kind != FLAME_UNKNOWN)
		err = puts_(d, word);
	if (!err && nd->file) {
		if (d->len)
			err = puts_(d, " · ");
		if (!err && nd->kind == FLAME_UNKNOWN && nd->line_min == 0)
			err = puts_(d, "in ");
		if (!err && flamegraph__escape(d, nd->file, 0) < 0)
			err = -ENOMEM;
		if (!err && nd->line_min) {
			if (nd->line_min == nd->line_max)
				err = putf(d, ":%" PRId64, (int64_t)nd->line_min);
			else
				err = putf(d, ":%" PRId64 "-%" PRId64, (int64_t)nd->line_min,
					   (int64_t)nd->line_max);
		}
	}
	return err;
}

struct cursor {
	size_t node;
	size_t next_child;
	__s64 offset;  /* of the node */
	__s64 used;    /* by the children emitted so far */
};

static int emit_frames(struct flamegraph_buf *b, struct layout *l)
{
	const struct flame *f = l->f;
	struct flamegraph_buf details = { 0 };
	struct cursor *stack;
	size_t sp = 0;
	int err;

	stack = malloc((l->depth + 2) * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	err = node_details(flame__node(f, 0), &details);
	if (!err)
		err = emit_frame(b, l, "all", details.buf, FLAME_ROOT, 0, 0, l->total);
	stack[sp++] = (struct cursor){ .node = 0, .next_child = flame__node(f, 0)->first_child };
	l->stats.frames = 1;
	while (sp && !err) {
		struct cursor *c = &stack[sp - 1];
		size_t ch = c->next_child;

		while (ch != FLAME_NONE && !l->visible[ch])
			ch = flame__node(f, ch)->next_sibling;
		if (ch != FLAME_NONE) {
			const struct flame_node *nd = flame__node(f, ch);
			__s64 off = c->offset + c->used;

			c->next_child = nd->next_sibling;
			c->used += nd->total;
			err = node_details(nd, &details);
			if (!err)
				err = emit_frame(b, l, nd->name, details.buf, nd->kind, nd->depth, off,
						 nd->total);
			l->stats.frames++;
			stack[sp++] = (struct cursor){ .node = ch, .next_child = nd->first_child,
						       .offset = off };
			continue;
		}
		/* After the drawn children: the merged block of the hidden ones, if wide enough. */
		if (l->hidden_total[c->node] >= l->min_count) {
			char name[64], why[64];

			snprintf(name, sizeof(name), "[%zu frames hidden]", l->hidden_nodes[c->node]);
			snprintf(why, sizeof(why), "each narrower than %.2f px", l->stats.min_width);
			err = emit_frame(b, l, name, why, FLAME_UNKNOWN,
					 flame__node(f, c->node)->depth + 1, c->offset + c->used,
					 l->hidden_total[c->node]);
			l->stats.frames++;
		}
		sp--;
	}
	free(stack);
	free(details.buf);
	return err;
}

static int emit_legend(struct flamegraph_buf *b, int y)
{
	static const struct {
		enum flame_kind kind;
		const char *label;
		const char *color;
	} keys[] = {
		{ FLAME_NATIVE, "native", "#f08a28" },
		{ FLAME_KERNEL, "kernel", "#5e9de0" },
		{ FLAME_JIT, "JIT", "#5ccf5c" },
		{ FLAME_PYTHON, "Python", "#40bcb8" },
		{ FLAME_UNKNOWN, "unknown", "#b4b4b4" },
	};
	int x = MARGIN, err = 0;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && !err; i++) {
		err = putf(b, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
			   "<text x=\"%d\" y=\"%d\">%s</text>\n", x, y - 9, keys[i].color, x + 14, y,
			   keys[i].label);
		x += 14 + 8 * (int)strlen(keys[i].label) + 16;
	}
	return err;
}

int flamegraph__render(const struct flame *f, const struct flamegraph_opts *opts,
		       const char *default_subtitle, char **svg, size_t *len,
		       struct flamegraph_stats *stats)
{
	struct flamegraph_opts defaults = { 0 };
	struct flamegraph_buf b = { 0 };
	struct layout l = { 0 };
	struct flame_stats fs;
	unsigned width;
	int height, err;

	if (!f || !svg || !len)
		return -EINVAL;
	if (!opts)
		opts = &defaults;
	width = opts->width ? opts->width : FLAMEGRAPH_DEFAULT_WIDTH;
	if (width < FLAMEGRAPH_MIN_WIDTH || width > FLAMEGRAPH_MAX_WIDTH ||
	    (opts->min_width && !(opts->min_width > 0 && opts->min_width < width)))
		return -EINVAL;
	flame__stats(f, &fs);
	l.f = f;
	l.opts = opts;
	l.width = width - 2 * MARGIN;
	l.min_width = opts->min_width ? opts->min_width : DEFAULT_MIN_WIDTH;
	/* An empty profile still draws its root, as a frame of one. */
	l.total = fs.total > 0 ? fs.total : 1;
	l.visible = calloc(fs.nodes, 1);
	err = l.visible ? choose_visible(&l) : -ENOMEM;
	if (!err)
		err = compute_hidden(&l);
	if (err)
		goto cleanup;

	height = TOP + (int)(l.depth + 1) * FRAME_H + BOTTOM;
	l.dir = opts->icicle ? 1 : -1;
	l.y0 = opts->icicle ? TOP : height - BOTTOM - FRAME_H;
	if (flamegraph__escape(&l.unit, opts->unit ? opts->unit : "samples", 0) < 0) {
		err = -ENOMEM;
		goto cleanup;
	}

	err = putf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%u\" "
		   "height=\"%d\" viewBox=\"0 0 %u %d\" data-x0=\"%d\" data-w=\"%g\" "
		   "data-total=\"%" PRId64 "\" data-unit=\"",
		   width, height, width, height, MARGIN, l.width, (int64_t)l.total);
	if (!err)
		err = puts_(&b, l.unit.buf);
	if (!err)
		err = putf(&b, "\">\n<style>%s</style>\n"
			   "<rect width=\"100%%\" height=\"100%%\" fill=\"#fafafa\"/>\n"
			   "<text id=\"title\" x=\"%u\" y=\"24\" text-anchor=\"middle\">", style,
			   width / 2);
	if (!err && flamegraph__escape(&b, opts->title ? opts->title : "CPU flame graph", 0) < 0)
		err = -ENOMEM;
	if (!err)
		err = putf(&b, "</text>\n<text id=\"subtitle\" x=\"%u\" y=\"42\" "
			   "text-anchor=\"middle\">", width / 2);
	if (!err && flamegraph__escape(&b, opts->subtitle ? opts->subtitle
					   : default_subtitle ? default_subtitle : "", 0) < 0)
		err = -ENOMEM;
	if (!err && l.stats.hidden)
		err = putf(&b, "%s%zu frames under %.2f px merged",
			   (opts->subtitle || default_subtitle) ? " · " : "", l.stats.hidden,
			   l.stats.min_width);
	if (!err)
		err = putf(&b, "</text>\n"
			   "<text id=\"reset\" class=\"btn hide\" x=\"%d\" y=\"24\">Reset zoom</text>\n"
			   "<text id=\"search\" class=\"btn\" x=\"%u\" y=\"24\" "
			   "text-anchor=\"end\">Search</text>\n"
			   "<text id=\"clear\" class=\"btn hide\" x=\"%u\" y=\"24\" "
			   "text-anchor=\"end\">Clear</text>\n"
			   "<text id=\"matched\" x=\"%u\" y=\"42\" text-anchor=\"end\"></text>\n"
			   "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n",
			   MARGIN, width - MARGIN, width - MARGIN - 60, width - MARGIN, MARGIN,
			   height - 24);
	if (!err)
		err = emit_legend(&b, height - 6);
	if (!err)
		err = putf(&b, "<g id=\"frames\" data-fh=\"%d\" data-y0=\"%d\" data-dir=\"%d\" "
			   "data-cw=\"%g\">\n", FRAME_H, l.y0, l.dir, CHAR_W);
	if (!err)
		err = emit_frames(&b, &l);
	/* The script last: it reads the frames, which must be parsed by then. */
	if (!err)
		err = putf(&b, "</g>\n<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n"
			   "</svg>\n", flamegraph_js);
	if (err)
		goto cleanup;
	*svg = b.buf;
	*len = b.len;
	b.buf = NULL;
	if (stats)
		*stats = l.stats;
cleanup:
	free(b.buf);
	free(l.visible);
	free(l.hidden_total);
	free(l.hidden_nodes);
	free(l.subtree);
	free(l.unit.buf);
	return err;
}

int flamegraph__svg(const struct pprof *p, const struct flamegraph_opts *opts, char **svg,
		    size_t *len, struct flamegraph_stats *stats)
{
	struct flame *f = flame__new(p, &(struct flame_opts){
		.no_process = opts && opts->no_process });
	char subtitle[160], count[32], when[48] = "", dur[32] = "";
	__s64 t = pprof__time_nanos(p), d = pprof__duration_ns(p);
	int err;

	if (!f)
		return -errno;
	if (t > 0) {
		time_t secs = t / 1000000000LL;
		struct tm tm;

		if (gmtime_r(&secs, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC · ", &tm);
	}
	if (d > 0)
		snprintf(dur, sizeof(dur), "%.1f s · ", d / 1e9);
	format_count(pprof__total_count(p), count, sizeof(count));
	snprintf(subtitle, sizeof(subtitle), "%s%s%s %s", when, dur, count,
		 opts && opts->unit ? opts->unit : "samples");
	err = flamegraph__render(f, opts, subtitle, svg, len, stats);
	flame__free(f);
	return err;
}
