/*
 * A tree builder over libyaml's event API.  libyaml's own document API
 * would expand aliases and accept any tag; building the tree here keeps
 * every limit in one place and gives each node its line and column.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "lp_util.h"
#include "ytree.h"

struct builder {
	const char	*name;
	const char	*buf;
	size_t		 len;
	struct lp_diag	*diag;
	struct lp_ynode	*root;
	struct lp_ynode	*stack[LP_YAML_DEPTH_MAX];
	size_t		 depth;
	size_t		 count;
	unsigned	 ndocs;
};

/* Reports a refusal at mark; returns -EINVAL, or -ENOMEM. */
static int
refuse(struct builder *b, yaml_mark_t mark, const char *what,
    const char *detail)
{
	int r;

	if (detail == NULL)
		detail = "";
	r = lp_diag_at(b->diag, b->name, (unsigned long)mark.line + 1,
	    (unsigned long)mark.column + 1, "%s%s", what, detail);
	return r < 0 ? r : -EINVAL;
}

/* Converts a byte offset into a line and a column in characters. */
static void
offset_to_pos(const struct builder *b, size_t off, unsigned long *line,
    unsigned long *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off && i < b->len; i++) {
		unsigned char c = (unsigned char)b->buf[i];

		if (c == '\n') {
			(*line)++;
			*col = 1;
		} else if ((c & 0xc0) != 0x80)
			(*col)++;
	}
}

/*
 * libyaml's word for a tab in the indentation is "found character that
 * cannot start any token", which sends people looking for the wrong
 * thing; the start of the line tells the two apart.
 */
static int
line_indent_has_tab(const struct builder *b, size_t line)
{
	size_t i = 0, n = 0;

	while (n < line && i < b->len)
		if (b->buf[i++] == '\n')
			n++;
	for (; i < b->len && (b->buf[i] == ' ' || b->buf[i] == '\t'); i++)
		if (b->buf[i] == '\t')
			return 1;
	return 0;
}

static int
report_libyaml(struct builder *b, const yaml_parser_t *p)
{
	unsigned long line, col;
	const char *problem = p->problem ? p->problem : "malformed YAML";
	int r;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return -ENOMEM;
	case YAML_READER_ERROR:
		offset_to_pos(b, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			r = lp_diag_at(b->diag, b->name, line, col,
			    "%s (#x%X)", problem, (unsigned)p->problem_value);
		else
			r = lp_diag_at(b->diag, b->name, line, col, "%s",
			    problem);
		break;
	default:
		line = (unsigned long)p->problem_mark.line + 1;
		col = (unsigned long)p->problem_mark.column + 1;
		if (line_indent_has_tab(b, p->problem_mark.line))
			r = lp_diag_at(b->diag, b->name, line, col,
			    "tab character in indentation; YAML indents "
			    "with spaces only");
		else if (p->context != NULL)
			r = lp_diag_at(b->diag, b->name, line, col,
			    "%s (%s at line %lu)", problem, p->context,
			    (unsigned long)p->context_mark.line + 1);
		else
			r = lp_diag_at(b->diag, b->name, line, col, "%s",
			    problem);
		break;
	}
	return r < 0 ? r : -EINVAL;
}

static int
check_props(struct builder *b, yaml_mark_t mark, const yaml_char_t *anchor,
    const yaml_char_t *tag)
{
	char safe[65];

	if (anchor != NULL)
		return refuse(b, mark, "anchors and aliases are not allowed",
		    NULL);
	if (tag != NULL) {
		lp_log_safe(safe, sizeof(safe), (const char *)tag, 64);
		return refuse(b, mark, "tags are not allowed, found ", safe);
	}
	return 0;
}

static int
append_item(struct lp_ynode *parent, struct lp_ynode *n)
{
	struct lp_ynode **v;
	size_t cap;

	if (parent->nitems == parent->cap) {
		cap = parent->cap ? parent->cap * 2 : 4;
		v = reallocarray(parent->items, cap, sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		parent->items = v;
		parent->cap = cap;
	}
	parent->items[parent->nitems++] = n;
	return 0;
}

/* Creates a node and hangs it under the open collection, or as root. */
static int
add_node(struct builder *b, enum lp_ynode_type type, yaml_mark_t mark,
    struct lp_ynode **ret_node)
{
	struct lp_ynode *n;
	int r;

	if (b->count >= LP_YAML_NODES_MAX)
		return refuse(b, mark, "too many nodes, the limit is "
		    "100000", NULL);
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return -ENOMEM;
	n->type = type;
	n->line = (unsigned long)mark.line + 1;
	n->col = (unsigned long)mark.column + 1;
	if (b->depth > 0)
		r = append_item(b->stack[b->depth - 1], n);
	else if (b->root == NULL) {
		b->root = n;
		r = 0;
	} else
		r = -EINVAL;	/* a second root; ndocs rules it out */
	if (r < 0) {
		free(n);
		return r;
	}
	b->count++;
	*ret_node = n;
	return 0;
}

static int
add_scalar(struct builder *b, const yaml_event_t *ev)
{
	struct lp_ynode *n;
	size_t len = ev->data.scalar.length;
	const char *v = (const char *)ev->data.scalar.value;
	int r;

	r = check_props(b, ev->start_mark, ev->data.scalar.anchor,
	    ev->data.scalar.tag);
	if (r < 0)
		return r;
	/* A "\0" escape would cut every C string made from the value. */
	if (memchr(v, '\0', len) != NULL)
		return refuse(b, ev->start_mark,
		    "a NUL character is not allowed in a value", NULL);
	if ((r = add_node(b, LP_YNODE_SCALAR, ev->start_mark, &n)) < 0)
		return r;
	if ((n->value = malloc(len + 1)) == NULL)
		return -ENOMEM;
	memcpy(n->value, v, len);
	n->value[len] = '\0';
	n->len = len;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return 0;
}

static int
open_collection(struct builder *b, const yaml_event_t *ev)
{
	struct lp_ynode *n;
	enum lp_ynode_type type;
	int r;

	if (ev->type == YAML_SEQUENCE_START_EVENT) {
		type = LP_YNODE_SEQUENCE;
		r = check_props(b, ev->start_mark,
		    ev->data.sequence_start.anchor,
		    ev->data.sequence_start.tag);
	} else {
		type = LP_YNODE_MAPPING;
		r = check_props(b, ev->start_mark,
		    ev->data.mapping_start.anchor,
		    ev->data.mapping_start.tag);
	}
	if (r < 0)
		return r;
	if (b->depth == LP_YAML_DEPTH_MAX)
		return refuse(b, ev->start_mark, "nesting is deeper than 32 "
		    "levels", NULL);
	if ((r = add_node(b, type, ev->start_mark, &n)) < 0)
		return r;
	b->stack[b->depth++] = n;
	return 0;
}

static int
handle_event(struct builder *b, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->ndocs > 1)
			return refuse(b, ev->start_mark, "only one document "
			    "is allowed", NULL);
		return 0;
	case YAML_ALIAS_EVENT:
		return refuse(b, ev->start_mark, "anchors and aliases are not "
		    "allowed", NULL);
	case YAML_SCALAR_EVENT:
		return add_scalar(b, ev);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		return open_collection(b, ev);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->depth == 0)
			return -EINVAL;
		b->depth--;
		return 0;
	default:
		return 0;
	}
}

int
lp_yaml_parse(const char *name, const char *buf, size_t len,
    struct lp_ynode **ret_root, struct lp_diag *diag)
{
	struct builder b = { .name = name, .buf = buf, .len = len,
	    .diag = diag };
	yaml_parser_t p;
	yaml_event_t ev;
	int r, end;

	/* libyaml asserts on a NULL input; NULL reads as empty. */
	if (buf == NULL) {
		buf = b.buf = "";
		len = b.len = 0;
	}
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);

	/* Ends: libyaml always reaches the end of the stream or an error. */
	do {
		if (!yaml_parser_parse(&p, &ev)) {
			r = report_libyaml(&b, &p);
			goto out;
		}
		r = handle_event(&b, &ev);
		end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (r < 0)
			goto out;
	} while (!end);

	*ret_root = b.root;
	b.root = NULL;
	r = 0;
out:
	lp_yaml_free(b.root);
	yaml_parser_delete(&p);
	return r;
}

const char *
lp_yaml_type_name(enum lp_ynode_type type)
{
	switch (type) {
	case LP_YNODE_SCALAR:
		return "a scalar";
	case LP_YNODE_SEQUENCE:
		return "a sequence";
	case LP_YNODE_MAPPING:
		return "a mapping";
	}
	return "a node";
}

void
lp_yaml_free(struct lp_ynode *root)
{
	size_t i;

	if (root == NULL)
		return;
	/* Recursion is bounded by LP_YAML_DEPTH_MAX. */
	for (i = 0; i < root->nitems; i++)
		lp_yaml_free(root->items[i]);
	free(root->items);
	free(root->value);
	free(root);
}
