/* SPDX-License-Identifier: MIT */
/* A tiny streaming JSON writer, and a key lookup for our own documents. */
#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dmapipe-tool.h"

void json_init(struct json *j, FILE *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
	j->first[0] = true;
}

/* Length of the valid UTF-8 sequence at @s, or 0 if it is not valid. */
static size_t utf8_valid_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

void json_write_escaped(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', out);
	while (*s) {
		size_t len;

		switch (*s) {
		case '"':
			fputs("\\\"", out);
			s++;
			continue;
		case '\\':
			fputs("\\\\", out);
			s++;
			continue;
		case '\n':
			fputs("\\n", out);
			s++;
			continue;
		case '\r':
			fputs("\\r", out);
			s++;
			continue;
		case '\t':
			fputs("\\t", out);
			s++;
			continue;
		case '\b':
			fputs("\\b", out);
			s++;
			continue;
		case '\f':
			fputs("\\f", out);
			s++;
			continue;
		default:
			break;
		}
		if (*s < 0x20 || *s == 0x7f) {
			fprintf(out, "\\u%04x", *s);
			s++;
			continue;
		}
		len = utf8_valid_len(s);
		if (len == 0) {
			fputs("\\ufffd", out);
			s++;
			continue;
		}
		fwrite(s, 1, len, out);
		s += len;
	}
	fputc('"', out);
}

const char *text_escape(const char *str, char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t n = 0;

	if (len == 0)
		return buf;
	while (*s) {
		size_t clen = utf8_valid_len(s);
		char tmp[8];
		const char *out;
		size_t olen;

		/* C1 controls (U+0080..U+009F) are terminal escapes in UTF-8 too */
		if (clen == 2 && s[0] == 0xc2 && s[1] < 0xa0)
			clen = 0;
		if (*s == '\\') {
			out = "\\\\";
			olen = 2;
			clen = 1;
		} else if (clen == 0 || *s < 0x20 || *s == 0x7f) {
			snprintf(tmp, sizeof(tmp), "\\x%02x", *s);
			out = tmp;
			olen = 4;
			clen = 1;
		} else {
			out = (const char *)s;
			olen = clen;
		}
		if (n + olen >= len)
			break; /* cut at a whole character */
		memcpy(buf + n, out, olen);
		n += olen;
		s += clen;
	}
	buf[n] = '\0';
	return buf;
}

void json_begin_document(struct json *j, bool interrupted)
{
	json_init(j, stdout);
	j->compact = tool.json_lines;
	json_begin_object(j, NULL);
	json_u64(j, "schema", JSON_SCHEMA);
	json_string(j, "command", tool.cmd);
	json_string(j, "result", tool_result(interrupted));
	if (tool.error != TOOL_OK) {
		json_begin_object(j, "error");
		json_string(j, "code", tool_error_name(tool.error));
		json_string(j, "message", tool.message);
		json_end_object(j);
	} else {
		json_null(j, "error");
	}
	tool.document = true;
}

/* Separator, indentation and key before a value at the current depth. */
static void json_prefix(struct json *j, const char *key)
{
	int i;

	if (j->depth > 0) {
		if (!j->first[j->depth])
			fputc(',', j->out);
		if (!j->compact) {
			fputc('\n', j->out);
			for (i = 0; i < j->depth; i++)
				fputs("  ", j->out);
		}
	}
	j->first[j->depth] = false;
	if (j->depth > 0 && !j->in_array[j->depth] && key) {
		json_write_escaped(j->out, key);
		fputs(j->compact ? ":" : ": ", j->out);
	}
}

static void json_open(struct json *j, const char *key, char c, bool array)
{
	json_prefix(j, key);
	fputc(c, j->out);
	if (j->depth + 1 >= JSON_MAX_DEPTH)
		abort(); /* a programming error in this tool */
	j->depth++;
	j->first[j->depth] = true;
	j->in_array[j->depth] = array;
}

static void json_close(struct json *j, char c)
{
	int i;

	if (j->depth == 0)
		abort();
	if (!j->first[j->depth] && !j->compact) {
		fputc('\n', j->out);
		for (i = 0; i < j->depth - 1; i++)
			fputs("  ", j->out);
	}
	j->depth--;
	fputc(c, j->out);
}

void json_begin_object(struct json *j, const char *key)
{
	json_open(j, key, '{', false);
}

void json_end_object(struct json *j)
{
	json_close(j, '}');
}

void json_begin_array(struct json *j, const char *key)
{
	json_open(j, key, '[', true);
}

void json_end_array(struct json *j)
{
	json_close(j, ']');
}

void json_string(struct json *j, const char *key, const char *value)
{
	json_prefix(j, key);
	if (value)
		json_write_escaped(j->out, value);
	else
		fputs("null", j->out);
}

void json_u64(struct json *j, const char *key, uint64_t value)
{
	json_prefix(j, key);
	fprintf(j->out, "%" PRIu64, value);
}

void json_i64(struct json *j, const char *key, int64_t value)
{
	json_prefix(j, key);
	fprintf(j->out, "%" PRId64, value);
}

void json_double(struct json *j, const char *key, double value)
{
	json_prefix(j, key);
	if (isfinite(value))
		fprintf(j->out, "%.6g", value);
	else
		fputs("null", j->out);
}

void json_bool(struct json *j, const char *key, bool value)
{
	json_prefix(j, key);
	fputs(value ? "true" : "false", j->out);
}

void json_null(struct json *j, const char *key)
{
	json_prefix(j, key);
	fputs("null", j->out);
}

void json_finish(struct json *j)
{
	while (j->depth > 0)
		json_close(j, j->in_array[j->depth] ? ']' : '}');
	fputc('\n', j->out);
	fflush(j->out);
}

/* The first character of the value of "key", or NULL. */
static const char *json_find(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *p = text;

	while ((p = strchr(p, '"'))) {
		const char *q = p + 1;

		if (strncmp(q, key, klen) == 0 && q[klen] == '"') {
			q += klen + 1;
			while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
				q++;
			if (*q == ':') {
				q++;
				while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
					q++;
				return q;
			}
		}
		p++;
	}
	return NULL;
}

int json_lookup_u64(const char *text, const char *key, uint64_t *value)
{
	const char *v = json_find(text, key);
	char *end;

	if (!v || *v < '0' || *v > '9')
		return -ENOENT;
	errno = 0;
	*value = strtoull(v, &end, 10);
	return errno ? -errno : 0;
}

int json_lookup_double(const char *text, const char *key, double *value)
{
	const char *v = json_find(text, key);
	char *end;

	if (!v)
		return -ENOENT;
	if (strncmp(v, "null", 4) == 0) {
		*value = NAN;
		return 0;
	}
	*value = strtod(v, &end);
	return end == v ? -ENOENT : 0;
}

int json_lookup_string(const char *text, const char *key, char *buf, size_t len)
{
	const char *v = json_find(text, key);
	size_t n = 0;

	if (!v || *v != '"' || len == 0)
		return -ENOENT;
	for (v++; *v && *v != '"'; v++) {
		char c = *v;

		if (c == '\\' && v[1]) {
			v++;
			c = *v == 'n' ? '\n' : *v == 't' ? '\t' : *v;
		}
		if (n + 1 < len)
			buf[n++] = c;
	}
	buf[n] = '\0';
	return 0;
}
