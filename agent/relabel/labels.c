// SPDX-License-Identifier: Apache-2.0
/* A label set: a sorted array, since sets hold tens of labels and are walked in order. */
#include "relabel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct label {
	char *name;
	char *value;
};

struct label_set {
	struct label *labels;
	size_t n;
	size_t cap;
};

struct label_set *label_set__new(void)
{
	return calloc(1, sizeof(struct label_set));
}

void label_set__clear(struct label_set *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		free(ls->labels[i].name);
		free(ls->labels[i].value);
	}
	ls->n = 0;
}

void label_set__free(struct label_set *ls)
{
	if (!ls)
		return;
	label_set__clear(ls);
	free(ls->labels);
	free(ls);
}

/* The index of name, or where it would go (with *found false). */
static size_t find(const struct label_set *ls, const char *name, bool *found)
{
	size_t lo = 0, hi = ls->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ls->labels[mid].name, name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

int label_set__set(struct label_set *ls, const char *name, const char *value)
{
	bool found;
	size_t i = find(ls, name, &found);
	char *v, *n;

	if (!value || !*value) {
		label_set__del(ls, name);
		return 0;
	}
	v = strdup(value);
	if (!v)
		return -ENOMEM;
	if (found) {
		free(ls->labels[i].value);
		ls->labels[i].value = v;
		return 0;
	}
	n = strdup(name);
	if (!n)
		goto nomem;
	if (ls->n == ls->cap) {
		size_t cap = ls->cap ? 2 * ls->cap : 16;
		struct label *l = realloc(ls->labels, cap * sizeof(*l));

		if (!l)
			goto nomem;
		ls->labels = l;
		ls->cap = cap;
	}
	memmove(&ls->labels[i + 1], &ls->labels[i], (ls->n - i) * sizeof(ls->labels[0]));
	ls->labels[i] = (struct label){ .name = n, .value = v };
	ls->n++;
	return 0;
nomem:
	free(n);
	free(v);
	return -ENOMEM;
}

const char *label_set__get(const struct label_set *ls, const char *name)
{
	bool found;
	size_t i = find(ls, name, &found);

	return found ? ls->labels[i].value : NULL;
}

void label_set__del(struct label_set *ls, const char *name)
{
	bool found;
	size_t i = find(ls, name, &found);

	if (!found)
		return;
	free(ls->labels[i].name);
	free(ls->labels[i].value);
	memmove(&ls->labels[i], &ls->labels[i + 1], (ls->n - i - 1) * sizeof(ls->labels[0]));
	ls->n--;
}

size_t label_set__count(const struct label_set *ls)
{
	return ls->n;
}

void label_set__at(const struct label_set *ls, size_t i, const char **name, const char **value)
{
	*name = ls->labels[i].name;
	*value = ls->labels[i].value;
}

bool relabel_label_name_valid(const char *name)
{
	if (!name || !*name)
		return false;
	for (const char *p = name; *p; p++) {
		bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_';

		if (!alpha && (p == name || *p < '0' || *p > '9'))
			return false;
	}
	return true;
}
