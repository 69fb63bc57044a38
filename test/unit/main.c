#include <stdlib.h>

#include "th.h"

int main(void)
{
    SRunner *sr = srunner_create(quantity_suite());
    srunner_add_suite(sr, yaml_suite());
    srunner_add_suite(sr, patch_suite());
    srunner_add_suite(sr, docs_suite());
    srunner_add_suite(sr, policy_suite());
    srunner_add_suite(sr, template_suite());
    srunner_add_suite(sr, admission_suite());
    srunner_add_suite(sr, kube_suite());
    srunner_add_suite(sr, arena_suite());
    srunner_add_suite(sr, workload_suite());
    srunner_add_suite(sr, cells_suite());
    srunner_add_suite(sr, metadata_suite());
    srunner_add_suite(sr, json_suite());
    srunner_add_suite(sr, json_decode_suite());
    srunner_add_suite(sr, metrics_suite());
    srunner_add_suite(sr, concerns_suite());
    srunner_add_suite(sr, connect_suite());
    srunner_add_suite(sr, listen_suite());
    srunner_add_suite(sr, compliance_suite());
    srunner_add_suite(sr, impact_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
