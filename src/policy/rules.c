/* The rule table: one row per workspace field, in the order defaults are
 * applied (a derived default may read what an earlier row defaulted). The
 * checks and defaults themselves live in one file per concern. */
#include "engine.h"

const struct skp_rule skp_rules[] = {
    /* images.c */
    {"spec.image", {"spec", "image"}, {"defaultImage"}, NULL, SKP_STRING, SKP_FILL,
     skp_images_check, NULL, skp_images_derive},
    /* resources.c */
    {"spec.resources", {"spec", "resources"}, {"defaultResources"}, NULL, SKP_OBJECT, SKP_DEEP,
     skp_resources_check, skp_resources_fit},
    /* storage.c */
    {"spec.storage.size", {"spec", "storage", "size"}, {"primaryStorage", "defaultSize"}, NULL,
     SKP_QUANTITY, SKP_FILL, skp_storage_check_size, NULL, skp_storage_derive_size,
     skp_storage_template_check},
    {"spec.storage.storageClassName", {"spec", "storage", "storageClassName"},
     {"primaryStorage", "defaultStorageClassName"}, NULL, SKP_STRING, SKP_FILL,
     skp_storage_check_class},
    {"spec.storage.mountPath", {"spec", "storage", "mountPath"},
     {"primaryStorage", "defaultMountPath"}, NULL, SKP_STRING, SKP_FILL,
     skp_storage_check_mount_path},
    {"spec.volumes", {"spec", "volumes"}, {"defaultVolumes"}, NULL, SKP_ARRAY, SKP_FILL,
     skp_storage_check_volumes},
    /* the container as the template shapes it */
    {"spec.containerConfig", {"spec", "containerConfig"}, {"defaultContainerConfig"}, NULL,
     SKP_OBJECT, SKP_FILL, NULL},
    {"spec.podSecurityContext", {"spec", "podSecurityContext"}, {"defaultPodSecurityContext"},
     NULL, SKP_OBJECT, SKP_FILL, NULL},
    {"spec.containerSecurityContext", {"spec", "containerSecurityContext"},
     {"defaultContainerSecurityContext"}, NULL, SKP_OBJECT, SKP_FILL, NULL},
    {"spec.readinessProbe", {"spec", "readinessProbe"}, {"defaultReadinessProbe"}, NULL,
     SKP_OBJECT, SKP_FILL, NULL},
    /* env.c */
    {"spec.env", {"spec", "env"}, {"baseEnv"}, NULL, SKP_ARRAY, SKP_BY_NAME, skp_env_check, NULL,
     NULL, skp_env_template_check, SKP_CHECK_ABSENT | SKP_NO_SELF_CHECK},
    /* init_containers.c */
    {"spec.initContainers", {"spec", "initContainers"}, {"defaultInitContainers"}, NULL,
     SKP_ARRAY, SKP_FILL, skp_init_containers_check, NULL, NULL,
     skp_init_containers_template_check, SKP_NO_SELF_CHECK},
    /* ownership.c */
    {"spec.ownershipType", {"spec", "ownershipType"}, {"defaultOwnershipType"}, "Public",
     SKP_STRING, SKP_FILL, skp_ownership_check_type},
    {"spec.accessType", {"spec", "accessType"}, {"defaultAccessType"}, NULL, SKP_STRING, SKP_FILL,
     skp_ownership_check_access_type, NULL, skp_ownership_derive_access_type},
    {"spec.accessStrategy", {"spec", "accessStrategy"}, {"defaultAccessStrategy"}, NULL,
     SKP_OBJECT, SKP_FILL, NULL},
    /* service_accounts.c */
    {"spec.serviceAccountName", {"spec", "serviceAccountName"}, {NULL}, NULL, SKP_STRING,
     SKP_FILL, skp_service_accounts_check, NULL, skp_service_accounts_derive, NULL,
     SKP_CHECK_ABSENT},
    /* app.c */
    {"spec.lifecycle", {"spec", "lifecycle"}, {"defaultLifecycle"}, NULL, SKP_OBJECT, SKP_FILL,
     skp_app_check_lifecycle},
    /* idle_shutdown.c */
    {"spec.idleShutdown", {"spec", "idleShutdown"}, {"defaultIdleShutdown"}, NULL, SKP_OBJECT,
     SKP_FILL, skp_idle_shutdown_check, NULL, NULL, skp_idle_shutdown_template_check},
    /* app.c */
    {"spec.appType", {"spec", "appType"}, {"appType"}, NULL, SKP_STRING, SKP_FILL,
     skp_app_check_type, NULL, NULL, skp_app_template_check},
    /* scheduling.c */
    {"spec.nodeSelector", {"spec", "nodeSelector"}, {"defaultNodeSelector"}, NULL, SKP_OBJECT,
     SKP_FILL, skp_scheduling_check_node_selector},
    {"spec.affinity", {"spec", "affinity"}, {"defaultAffinity"}, NULL, SKP_OBJECT, SKP_FILL, NULL},
    {"spec.tolerations", {"spec", "tolerations"}, {"defaultTolerations"}, NULL, SKP_ARRAY,
     SKP_FILL, skp_scheduling_check_tolerations},
    {"spec.desiredStatus", {"spec", "desiredStatus"}, {NULL}, "Running", SKP_STRING, SKP_FILL,
     skp_app_check_desired_status},
    /* labels.c */
    {"metadata.labels", {"metadata", "labels"}, {"baseLabels"}, NULL, SKP_OBJECT, SKP_BY_KEY,
     skp_labels_check_requirements, NULL, NULL, skp_labels_template_check,
     SKP_CHECK_ABSENT | SKP_NO_SELF_CHECK},
};

const size_t skp_rules_count = sizeof skp_rules / sizeof *skp_rules;
