/*
 * libFuzzer target for lp-hop's request parser and group check
 * (lib/hop.c), both fed from what a person controls:
 *	- the whole input, NUL-terminated, is a request: it is refused
 *	  with the output untouched, or accepted as a name that the node
 *	  registry would accept, equal to the request's one word in lower
 *	  case;
 *	- the input split at newlines is a node's group list (the first
 *	  line, given unterminated as the index gives it) and a person's
 *	  groups (the other lines): the answer is 0 or 1, and 1 exactly
 *	  when one of the person's groups is a whole element of the list.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hop.h"
#include "index.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define POISON		0xa5
#define GROUPS_MAX	64

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The request's one word, folded, compared with what the parser gave. */
static void
check_same_word(const char *req, const char *node)
{
	size_t i;

	while (*req == ' ' || *req == '\t')
		req++;
	for (i = 0; node[i] != '\0'; i++)
		if (lower(req[i]) != node[i])
			__builtin_trap();
	for (req += i; *req != '\0'; req++)
		if (*req != ' ' && *req != '\t')
			__builtin_trap();
}

static void
parse_input(const uint8_t *data, size_t size)
{
	char node[LP_NODE_NAME_MAX + 1], *req;
	enum lp_hop_req_error e;
	size_t i;

	if ((req = malloc(size + 1)) == NULL)
		return;
	memcpy(req, data, size);
	req[size] = '\0';
	memset(node, POISON, sizeof(node));
	e = lp_hop_parse_request(req, node);
	if (e == LP_HOP_REQ_OK) {
		if (lp_index_node_name_check(node, strlen(node)) != 0)
			__builtin_trap();
		check_same_word(req, node);
	} else {
		if (e != LP_HOP_REQ_EMPTY && e != LP_HOP_REQ_WORDS &&
		    e != LP_HOP_REQ_CHARS && e != LP_HOP_REQ_LONG)
			__builtin_trap();
		for (i = 0; i < sizeof(node); i++)
			if ((unsigned char)node[i] != POISON)
				__builtin_trap();
	}
	if (lp_hop_req_error_word(e) == NULL)
		__builtin_trap();
	free(req);
}

/* The answer worked out another way: by searching ",LIST," for ",G,". */
static int
expected(const char *list, size_t len, char *const *groups, size_t n)
{
	char *wrapped, *needle;
	size_t i, glen;
	int found = 0;

	if (len == 1 && list[0] == '-')
		return 0;
	if ((wrapped = malloc(len + 3)) == NULL)
		return -1;
	wrapped[0] = ',';
	memcpy(wrapped + 1, list, len);
	memcpy(wrapped + 1 + len, ",", 2);
	for (i = 0; i < n && !found; i++) {
		glen = strlen(groups[i]);
		if (glen == 0 || strchr(groups[i], ',') != NULL ||
		    (needle = malloc(glen + 3)) == NULL)
			continue;
		needle[0] = ',';
		memcpy(needle + 1, groups[i], glen);
		memcpy(needle + 1 + glen, ",", 2);
		found = strstr(wrapped, needle) != NULL;
		free(needle);
	}
	free(wrapped);
	return found;
}

static void
groups_input(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t len = nl != NULL ? (size_t)(nl - data) : size, n = 0;
	char *list, *rest = NULL, *groups[GROUPS_MAX], *p, *q;
	int got, want;

	/* Exactly len bytes, so that reading past them is caught. */
	if ((list = malloc(len > 0 ? len : 1)) == NULL)
		return;
	memcpy(list, data, len);
	if (nl != NULL && (rest = malloc(size - len)) != NULL) {
		memcpy(rest, nl + 1, size - len - 1);
		rest[size - len - 1] = '\0';
		for (p = rest; n < GROUPS_MAX; p = q + 1) {
			groups[n++] = p;
			if ((q = strchr(p, '\n')) == NULL)
				break;
			*q = '\0';
		}
	}

	got = lp_hop_group_allowed(list, len, groups, n);
	if (got != 0 && got != 1)
		__builtin_trap();
	/* strstr stops at a NUL: compare only lists without one. */
	if (memchr(list, '\0', len) == NULL) {
		want = expected(list, len, groups, n);
		if (want != -1 && want != got)
			__builtin_trap();
	}
	free(list);
	free(rest);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_input(data, size);
	groups_input(data, size);
	return 0;
}
