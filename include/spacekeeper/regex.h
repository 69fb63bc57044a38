/* Template regular expressions with the workspace operator's semantics: RE2
 * syntax, tested as an unanchored search (Go's regexp.MatchString), so a
 * pattern that means the whole value says ^...$ itself. Run by PCRE2 under
 * match and depth limits, so that no template can make a review slow; the
 * constructs RE2 lacks (backreferences, lookaround, atomic groups,
 * possessive quantifiers, recursion, conditionals) are refused. */
#ifndef SPACEKEEPER_REGEX_H
#define SPACEKEEPER_REGEX_H

#include <stddef.h>

#include "spacekeeper/err.h"

typedef struct sk_regex sk_regex;

/* NULL with err set ("... at offset N") when the pattern does not compile. */
sk_regex *sk_regex_new(const char *pattern, sk_err *err);
void sk_regex_free(sk_regex *re);
/* 1 when the pattern matches somewhere in s[0..n), 0 when not, -1 when the
 * search was stopped by a limit (or s is not UTF-8). */
int sk_regex_search(const sk_regex *re, const char *s, size_t n);

#endif
