/* Test helpers shared by the unit suites. */
#ifndef SK_TEST_TH_H
#define SK_TEST_TH_H

#include <check.h>
#include <jansson.h>

#include "spacekeeper/policy.h"

/* One YAML document (aborts the test if it does not parse). */
json_t *th_yaml(const char *text);
/* The store of test/fixtures/templates.yaml. */
sk_store *th_fixture_store(void);
/* Runs the engine and logs (object, patch, defaulted object) for
 * test/verify_patches.py, which applies the patch independently. */
void th_review(const sk_store *store, const sk_request *req, sk_decision *d);
void th_review_with(const sk_policy_config *cfg, const sk_store *store, const sk_request *req,
                    sk_decision *d);
/* Logs a patch with the object it must turn `original` into. */
void th_log_patch(const json_t *original, const json_t *patch, const json_t *expected);
/* Does any violation name `field` (exact) with `text` in its message? */
int th_has_violation(const sk_decision *d, const char *field, const char *text);
/* How many violations name `field` (exact)? */
int th_count_violations(const sk_decision *d, const char *field);
/* A store of the templates in a YAML stream (each must compile cleanly). */
sk_store *th_store(const char *yaml);
/* Dumps the decision's violations, for failure messages. */
const char *th_violations(const sk_decision *d);

Suite *quantity_suite(void);
Suite *yaml_suite(void);
Suite *patch_suite(void);
Suite *policy_suite(void);
Suite *template_suite(void);
Suite *admission_suite(void);
Suite *docs_suite(void);
Suite *kube_suite(void);
Suite *arena_suite(void);
Suite *workload_suite(void);
Suite *cells_suite(void);
Suite *metadata_suite(void);
Suite *json_suite(void);
Suite *json_decode_suite(void);
Suite *metrics_suite(void);
Suite *concerns_suite(void);
Suite *connect_suite(void);
Suite *listen_suite(void);
Suite *compliance_suite(void);

Suite *impact_suite(void);

#endif
