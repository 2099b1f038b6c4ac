/* image-builder/logescape.c: guest text made safe for a host terminal or
 * file. Control bytes, C1, invalid UTF-8, and the characters that reorder
 * or hide text (bidi controls, zero-width and other invisible format
 * characters, line and paragraph separators: "Trojan Source") are escaped;
 * every other character is kept as it is. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "logescape.h"

#include <stdio.h>
#include <string.h>

static char out[6 * 64 + 1];

static const char *esc(const char *s, int json)
{
	logs_escape(out, s, strlen(s), json);
	return out;
}

/* Every code point that moves a terminal's cursor or changes what it shows
 * (C0, DEL, C1, bidi and line separators), and the others of their kind. */
static const struct {
	const char *utf8, *text, *json;
} hidden[] = {
	{ "\xd8\x9c", "\\xd8\\x9c", "\\u061c" },                 /* ARABIC LETTER MARK */
	{ "\xe2\x80\x8b", "\\xe2\\x80\\x8b", "\\u200b" },        /* ZERO WIDTH SPACE */
	{ "\xe2\x80\x8c", "\\xe2\\x80\\x8c", "\\u200c" },        /* ZWNJ */
	{ "\xe2\x80\x8d", "\\xe2\\x80\\x8d", "\\u200d" },        /* ZWJ */
	{ "\xe2\x80\x8e", "\\xe2\\x80\\x8e", "\\u200e" },        /* LRM */
	{ "\xe2\x80\x8f", "\\xe2\\x80\\x8f", "\\u200f" },        /* RLM */
	{ "\xe2\x80\xa8", "\\xe2\\x80\\xa8", "\\u2028" },        /* LINE SEPARATOR */
	{ "\xe2\x80\xa9", "\\xe2\\x80\\xa9", "\\u2029" },        /* PARAGRAPH SEPARATOR */
	{ "\xe2\x80\xaa", "\\xe2\\x80\\xaa", "\\u202a" },        /* LRE */
	{ "\xe2\x80\xab", "\\xe2\\x80\\xab", "\\u202b" },        /* RLE */
	{ "\xe2\x80\xac", "\\xe2\\x80\\xac", "\\u202c" },        /* PDF */
	{ "\xe2\x80\xad", "\\xe2\\x80\\xad", "\\u202d" },        /* LRO */
	{ "\xe2\x80\xae", "\\xe2\\x80\\xae", "\\u202e" },        /* RLO */
	{ "\xe2\x81\xa0", "\\xe2\\x81\\xa0", "\\u2060" },        /* WORD JOINER */
	{ "\xe2\x81\xa4", "\\xe2\\x81\\xa4", "\\u2064" },        /* INVISIBLE PLUS */
	{ "\xe2\x81\xa6", "\\xe2\\x81\\xa6", "\\u2066" },        /* LRI */
	{ "\xe2\x81\xa7", "\\xe2\\x81\\xa7", "\\u2067" },        /* RLI */
	{ "\xe2\x81\xa8", "\\xe2\\x81\\xa8", "\\u2068" },        /* FSI */
	{ "\xe2\x81\xa9", "\\xe2\\x81\\xa9", "\\u2069" },        /* PDI */
	{ "\xef\xbb\xbf", "\\xef\\xbb\\xbf", "\\ufeff" },        /* BOM / ZWNBSP */
	{ "\xf3\xa0\x80\x81", "\\xf3\\xa0\\x80\\x81", "\\udb40\\udc01" }, /* LANGUAGE TAG */
	{ "\xf3\xa0\x81\xbf", "\\xf3\\xa0\\x81\\xbf", "\\udb40\\udc7f" }, /* CANCEL TAG */
	{ "\xc2\x9b", "\\xc2\\x9b", "\\u009b" },                 /* CSI (C1), as before */
	{ "\x1b", "\\x1b", "\\u001b" },
};

static void test_hidden_characters_are_escaped(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		char in[16], want[64];
		snprintf(in, sizeof(in), "a%sb", hidden[i].utf8);
		snprintf(want, sizeof(want), "a%sb", hidden[i].text);
		assert_string_equal(esc(in, 0), want);
		snprintf(want, sizeof(want), "a%sb", hidden[i].json);
		assert_string_equal(esc(in, 1), want);
	}
}

/* The neighbours of each range, and ordinary text, are shown as they are. */
static void test_their_neighbours_and_other_text_are_kept(void **state)
{
	static const char *const kept[] = {
		"\xc2\xa0",          /* NO-BREAK SPACE, the first after C1 */
		"\xd8\x9b",          /* U+061B ARABIC SEMICOLON */
		"\xd8\x9d",          /* U+061D */
		"\xe2\x80\x8a",      /* U+200A HAIR SPACE */
		"\xe2\x80\x90",      /* U+2010 HYPHEN */
		"\xe2\x80\xa7",      /* U+2027 HYPHENATION POINT */
		"\xe2\x80\xaf",      /* U+202F NARROW NO-BREAK SPACE */
		"\xe2\x81\x9f",      /* U+205F MEDIUM MATHEMATICAL SPACE */
		"\xe2\x81\xa5",      /* U+2065 (unassigned, between the ranges) */
		"\xe2\x81\xaa",      /* U+206A */
		"\xef\xbb\xbe",      /* U+FEFE */
		"\xf3\xa0\x82\x80",  /* U+E0080 */
		"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xf0\x9f\x98\x80", /* é, CJK, Hebrew, emoji */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		assert_string_equal(esc(kept[i], 0), kept[i]);
		assert_string_equal(esc(kept[i], 1), kept[i]);
	}
}

/* The Trojan Source paper's line: shown in byte order, nothing reordered. */
static void test_a_trojan_source_line_shows_in_byte_order(void **state)
{
	(void)state;
	assert_string_equal(esc("access level: \xe2\x80\xae \xe2\x81\xa6user\xe2\x81\xa9 \xe2\x81\xa6" "admin", 0),
			    "access level: \\xe2\\x80\\xae \\xe2\\x81\\xa6user\\xe2\\x81\\xa9 \\xe2\\x81\\xa6admin");
}

/* Invalid UTF-8 stays as it was escaped: byte by byte, never swallowed. */
static void test_invalid_bytes_are_escaped_one_by_one(void **state)
{
	(void)state;
	assert_string_equal(esc("\xe2\x80 \xff\xf3\xa0\x80", 0), "\\xe2\\x80 \\xff\\xf3\\xa0\\x80");
	assert_string_equal(esc("\xe2\x80", 1), "\\\\xe2\\\\x80");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hidden_characters_are_escaped),
		cmocka_unit_test(test_their_neighbours_and_other_text_are_kept),
		cmocka_unit_test(test_a_trojan_source_line_shows_in_byte_order),
		cmocka_unit_test(test_invalid_bytes_are_escaped_one_by_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
