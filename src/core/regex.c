#include "spacekeeper/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Far above what a label or variable check needs, far below slow. */
#define MATCH_LIMIT 100000
#define DEPTH_LIMIT 1000
#define PATTERN_MAX 4096

struct sk_regex {
    pcre2_code *code;
    pcre2_match_context *mctx;
};

/* The group openings RE2 knows: (?:, (?P<name>, (?<name>, and flag groups
 * (?flags) / (?flags:...) over i, m, s, U and '-'. */
static const char *group_problem(const char *p)
{
    if (p[0] == ':' || (p[0] == 'P' && p[1] == '<') ||
        (p[0] == '<' && p[1] != '=' && p[1] != '!'))
        return NULL;
    const char *q = p;
    while (*q && strchr("imsU-", *q))
        q++;
    if (q > p && (*q == ')' || *q == ':'))
        return NULL;
    if (p[0] == '=' || p[0] == '!' || (p[0] == '<' && (p[1] == '=' || p[1] == '!')))
        return "lookaround";
    if (p[0] == '>')
        return "atomic groups";
    return "this kind of group";
}

/* NULL when the pattern uses only what RE2 has, else what it lacks. */
static const char *re2_problem(const char *p, size_t *at)
{
    int in_class = 0;
    for (size_t i = 0; p[i]; i++) {
        *at = i;
        char c = p[i];
        if (c == '\\') {
            char e = p[i + 1];
            if (!e)
                return NULL; /* PCRE2 reports the trailing backslash */
            if (e == 'Q') { /* quoted to \E, as in both */
                const char *end = strstr(p + i + 2, "\\E");
                if (!end)
                    return NULL;
                i = (size_t)(end - p) + 1;
                continue;
            }
            if (!in_class && ((e >= '1' && e <= '9') || e == 'g' || e == 'k'))
                return "backreferences";
            if (strchr("KRXZGhHvVN", e))
                return "this escape";
            i++;
            continue;
        }
        if (in_class) {
            if (c == ']')
                in_class = 0;
            continue;
        }
        if (c == '[') {
            in_class = 1;
            if (p[i + 1] == '^')
                i++;
            if (p[i + 1] == ']')
                i++; /* a leading ] is literal */
            continue;
        }
        if (c == '(' && p[i + 1] == '?') {
            const char *why = group_problem(p + i + 2);
            if (why)
                return why;
        }
        if (c == '(' && p[i + 1] == '*')
            return "verbs";
        if (strchr("*+?}", c) && p[i + 1] == '+')
            return "possessive quantifiers";
    }
    return NULL;
}

sk_regex *sk_regex_new(const char *pattern, sk_err *err)
{
    size_t n = strlen(pattern), at = 0;
    if (n > PATTERN_MAX) {
        sk_err_set(err, "is longer than %d bytes", PATTERN_MAX);
        return NULL;
    }
    const char *why = re2_problem(pattern, &at);
    if (why) {
        sk_err_set(err, "uses %s, which RE2 syntax does not have (at offset %zu)", why, at);
        return NULL;
    }
    int code;
    PCRE2_SIZE off;
    /* Go's $ matches only at the end of the text, and . never matches \n:
     * DOLLAR_ENDONLY and PCRE2's default. */
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)pattern, n,
                                  PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C, &code,
                                  &off, NULL);
    if (!c) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        sk_err_set(err, "does not compile: %s at offset %zu", (const char *)msg, (size_t)off);
        return NULL;
    }
    sk_regex *re = calloc(1, sizeof *re);
    if (!re)
        abort();
    re->code = c;
    re->mctx = pcre2_match_context_create(NULL);
    if (!re->mctx)
        abort();
    pcre2_set_match_limit(re->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(re->mctx, DEPTH_LIMIT);
    return re;
}

void sk_regex_free(sk_regex *re)
{
    if (!re)
        return;
    pcre2_match_context_free(re->mctx);
    pcre2_code_free(re->code);
    free(re);
}

/* One per thread, for every search: a match needs room for one pair only.
 * Freed at thread exit by the key's destructor. */
static pthread_key_t md_key;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_free(void *md)
{
    pcre2_match_data_free(md);
}

static void md_init(void)
{
    if (pthread_key_create(&md_key, md_free) != 0)
        abort();
}

static pcre2_match_data *thread_match_data(void)
{
    pthread_once(&md_once, md_init);
    pcre2_match_data *md = pthread_getspecific(md_key);
    if (!md) {
        if (!(md = pcre2_match_data_create(1, NULL)) || pthread_setspecific(md_key, md) != 0)
            abort();
    }
    return md;
}

int sk_regex_search(const sk_regex *re, const char *s, size_t n)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, thread_match_data(), re->mctx);
    if (rc >= 0)
        return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}
