/* What spacekeeper check found, as text for people, JSON or YAML for
 * scripts, and JUnit XML for CI systems' test reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"
#include "spacekeeper/violation.h"
#include "spacekeeper/yaml.h"

json_t *sk_check_result(const sk_decision *d, const char *source, int with_object)
{
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:b, s:O, s:O}", "source", source, "kind", d->kind,
                          "namespace", d->namespace, "name", d->name, "allowed", d->allowed,
                          "violations", d->violations, "warnings", d->warnings);
    if (d->template)
        json_object_set(r, "template", d->template);
    if (with_object) {
        json_object_set(r, "patch", d->patch);
        if (d->object)
            json_object_set(r, "object", d->object);
    }
    return r;
}

static int allowed(const json_t *r)
{
    return json_is_true(json_object_get(r, "allowed"));
}

/* With --impact only the workspaces that would be denied are listed; the
 * rest are counted. */
static int listed(const sk_check_report *rep, const json_t *r)
{
    return !rep->impact || !allowed(r);
}

/* "ns/name" of a result's template, or NULL. */
static const char *template_key(const json_t *r, char *buf, size_t cap)
{
    const char *name = sk_json_str(r, "template", "name", NULL);
    if (!name)
        return NULL;
    snprintf(buf, cap, "%s/%s", sk_json_str(r, "template", "namespace", NULL), name);
    return buf;
}

/* "Workspace team-a/name" */
static void describe(const json_t *r, sk_buf *out)
{
    const char *ns = sk_json_str(r, "namespace", NULL), *name = sk_json_str(r, "name", NULL);
    sk_buf_printf(out, "%s %s%s%s", sk_json_str(r, "kind", NULL), ns && *ns ? ns : "",
                  ns && *ns ? "/" : "", name ? name : "");
}

/* ---- text ---- */

static void print_result_text(const json_t *r)
{
    sk_buf what = SK_BUF_INIT;
    describe(r, &what);
    char key[512];
    const char *tpl = template_key(r, key, sizeof key);
    printf("%s  (%s)  %s%s%s\n", what.data, sk_json_str(r, "source", NULL),
           allowed(r) ? "ALLOWED" : "DENIED", tpl ? "  template " : "", tpl ? tpl : "");
    sk_buf_free(&what);
    size_t j;
    json_t *x;
    json_array_foreach(json_object_get(r, "patch"), j, x) {
        char *v = sk_json_dumps(json_object_get(x, "value"), JSON_COMPACT | JSON_ENCODE_ANY);
        printf("  %-8s %s = %s\n", j ? "" : "defaults", sk_json_str(x, "path", NULL), v ? v : "");
        free(v);
    }
    json_array_foreach(json_object_get(r, "violations"), j, x)
        printf("  %-8s %s\n", j ? "" : "denied", sk_json_str(x, "message", NULL));
    json_array_foreach(json_object_get(r, "warnings"), j, x)
        printf("  %-8s %s\n", j ? "" : "warning", json_string_value(x));
}

static void print_impact_summary(const json_t *impact)
{
    const json_t *templates = json_object_get(impact, "templates");
    size_t n = json_array_size(templates), i;
    json_t *t;
    printf("impact of ");
    json_array_foreach(templates, i, t)
        printf("%s%s", i ? ", " : "", json_string_value(t));
    const char *ns = sk_json_str(impact, "namespace", NULL);
    json_int_t denied = json_integer_value(json_object_get(impact, "denied"));
    printf(" on %lld workspaces (%s%s): %lld use %s, %lld would be denied at their next start, "
           "%lld would still start\n",
           (long long)json_integer_value(json_object_get(impact, "workspaces")),
           ns ? "namespace " : "all namespaces", ns ? ns : "",
           (long long)json_integer_value(json_object_get(impact, "using")), n == 1 ? "it" : "them",
           (long long)denied, (long long)json_integer_value(json_object_get(impact, "passing")));
}

static void print_text(const sk_check_report *rep)
{
    size_t i, n_allowed = 0, n = 0;
    json_t *r;
    json_array_foreach(rep->results, i, r) {
        n++;
        n_allowed += allowed(r);
        if (listed(rep, r))
            print_result_text(r);
    }
    if (rep->impact) {
        print_impact_summary(rep->impact);
        return;
    }
    printf("%zu checked: %zu allowed, %zu denied", n, n_allowed, n - n_allowed);
    if (rep->skipped)
        printf(", %zu skipped (not %s objects)", rep->skipped, SK_API_GROUP);
    printf("\n");
}

/* ---- JSON and YAML ---- */

static json_t *as_document(const sk_check_report *rep)
{
    json_t *results = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rep->results, i, r) {
        if (listed(rep, r))
            json_array_append(results, r);
    }
    json_t *doc = json_pack("{s:o}", "results", results);
    if (rep->impact)
        json_object_set(doc, "impact", rep->impact);
    return doc;
}

/* ---- JUnit XML ----
 * The shape CI systems read (Jenkins, GitLab, GitHub reporters): testsuites
 * > testsuite per source > testcase per checked object, a failure per
 * denial whose message is the violations, properties naming the template. */

/* Text for an XML attribute (`attr`) or element: the five entities, line
 * breaks kept in attributes, and characters XML 1.0 cannot carry replaced. */
static void xml_escape(sk_buf *out, const char *s, int attr)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': sk_buf_puts(out, "&amp;"); break;
        case '<': sk_buf_puts(out, "&lt;"); break;
        case '>': sk_buf_puts(out, "&gt;"); break;
        case '"': sk_buf_puts(out, "&quot;"); break;
        case '\'': sk_buf_puts(out, "&apos;"); break;
        case '\n': sk_buf_puts(out, attr ? "&#10;" : "\n"); break;
        case '\r': sk_buf_puts(out, "&#13;"); break;
        case '\t': sk_buf_puts(out, attr ? "&#9;" : "\t"); break;
        default:
            if (c < 0x20)
                sk_buf_puts(out, "\xef\xbf\xbd"); /* U+FFFD */
            else
                sk_buf_append(out, s, 1);
        }
    }
}

static void xml_attr(sk_buf *out, const char *name, const char *value)
{
    sk_buf_printf(out, " %s=\"", name);
    xml_escape(out, value, 1);
    sk_buf_puts(out, "\"");
}

static void junit_testcase(sk_buf *out, const json_t *r)
{
    sk_buf what = SK_BUF_INIT;
    describe(r, &what);
    sk_buf_puts(out, "    <testcase");
    xml_attr(out, "name", what.data);
    xml_attr(out, "classname", sk_json_str(r, "source", NULL));
    sk_buf_puts(out, ">\n");
    sk_buf_free(&what);
    const char *tpl_name = sk_json_str(r, "template", "name", NULL);
    if (tpl_name) {
        sk_buf_puts(out, "      <properties>\n        <property name=\"template\"");
        char key[512];
        xml_attr(out, "value", template_key(r, key, sizeof key));
        sk_buf_puts(out, "/>\n        <property name=\"template.name\"");
        xml_attr(out, "value", tpl_name);
        sk_buf_puts(out, "/>\n        <property name=\"template.namespace\"");
        xml_attr(out, "value", sk_json_str(r, "template", "namespace", NULL));
        sk_buf_puts(out, "/>\n      </properties>\n");
    }
    const json_t *violations = json_object_get(r, "violations");
    if (!allowed(r)) {
        char *summary = sk_violation_summary(violations);
        sk_buf_puts(out, "      <failure type=\"denied\"");
        xml_attr(out, "message", summary);
        sk_buf_puts(out, ">");
        size_t j;
        json_t *v;
        json_array_foreach(violations, j, v) {
            sk_buf_puts(out, j ? "\n" : "");
            xml_escape(out, sk_json_str(v, "message", NULL), 0);
        }
        sk_buf_puts(out, "</failure>\n");
        free(summary);
    }
    const json_t *warnings = json_object_get(r, "warnings");
    if (json_array_size(warnings)) {
        sk_buf_puts(out, "      <system-out>");
        size_t j;
        json_t *w;
        json_array_foreach(warnings, j, w) {
            sk_buf_puts(out, "warning: ");
            xml_escape(out, json_string_value(w), 0);
            sk_buf_puts(out, "\n");
        }
        sk_buf_puts(out, "</system-out>\n");
    }
    sk_buf_puts(out, "    </testcase>\n");
}

static void junit_counts(sk_buf *out, size_t tests, size_t failures)
{
    sk_buf_printf(out, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\"", tests, failures);
}

/* The file a source names: "dir/f.yaml#2" (a stream's second document) is
 * "dir/f.yaml". */
static size_t file_len(const char *source)
{
    const char *hash = strrchr(source, '#');
    if (hash && hash[1] && strspn(hash + 1, "0123456789") == strlen(hash + 1))
        return (size_t)(hash - source);
    return strlen(source);
}

static int same_file(const char *a, const char *b)
{
    size_t n = file_len(a);
    return n == file_len(b) && strncmp(a, b, n) == 0;
}

/* One testsuite per file, in the order files first appear. */
static void print_junit(const sk_check_report *rep)
{
    const json_t *results = rep->results;
    size_t n = json_array_size(results), failures = 0;
    char *done = calloc(n ? n : 1, 1);
    if (!done)
        abort();
    sk_buf suites = SK_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        const char *source = sk_json_str(json_array_get(results, i), "source", NULL);
        size_t tests = 0, failed = 0;
        sk_buf cases = SK_BUF_INIT;
        for (size_t j = i; j < n; j++) {
            const json_t *r = json_array_get(results, j);
            if (done[j] || !same_file(sk_json_str(r, "source", NULL), source))
                continue;
            done[j] = 1;
            tests++;
            failed += !allowed(r);
            junit_testcase(&cases, r);
        }
        failures += failed;
        sk_buf_puts(&suites, "  <testsuite name=\"");
        char *file = strndup(source, file_len(source));
        xml_escape(&suites, file, 1);
        free(file);
        sk_buf_puts(&suites, "\"");
        junit_counts(&suites, tests, failed);
        sk_buf_puts(&suites, ">\n");
        sk_buf_append(&suites, cases.data, cases.len);
        sk_buf_puts(&suites, "  </testsuite>\n");
        sk_buf_free(&cases);
    }
    free(done);
    if (n == 0) { /* nothing checked (--impact: no workspace uses the template): still a suite */
        sk_buf_puts(&suites, "  <testsuite name=\"spacekeeper check\"");
        junit_counts(&suites, 0, 0);
        sk_buf_puts(&suites, "/>\n");
    }
    printf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    sk_buf head = SK_BUF_INIT;
    sk_buf_puts(&head, "<testsuites name=\"spacekeeper check\"");
    junit_counts(&head, n, failures);
    printf("%s>\n%s</testsuites>\n", head.data, suites.data ? suites.data : "");
    sk_buf_free(&head);
    sk_buf_free(&suites);
}

void sk_check_report_print(const sk_check_report *r, sk_check_output out)
{
    switch (out) {
    case SK_OUT_TEXT: print_text(r); return;
    case SK_OUT_JUNIT: print_junit(r); return;
    case SK_OUT_JSON:
    case SK_OUT_YAML: break;
    }
    json_t *doc = as_document(r);
    if (out == SK_OUT_JSON) {
        json_dumpf(doc, stdout, JSON_INDENT(2));
        putchar('\n');
    } else {
        char *y = sk_yaml_dump(doc);
        fputs(y ? y : "", stdout);
        free(y);
    }
    json_decref(doc);
}
