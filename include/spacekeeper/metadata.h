/* Kubernetes' own rules for labels and annotations, as the API server
 * applies them to every object (apimachinery's ValidateLabels and
 * ValidateAnnotations). The CRD schemas do not cover metadata, so a template
 * or workspace breaking these rules would pass the schemas and still be
 * refused by the API server: the engine reports them as violations first.
 *
 * - keys are qualified names: an optional prefix (a lowercase DNS subdomain,
 *   at most 253 characters) and '/', then a name of at most 63 characters
 *   of letters, digits, '-', '_' and '.', starting and ending with a letter
 *   or digit. Annotation keys are checked in lower case, as Kubernetes does.
 * - label values: at most 63 characters of the same set, may be empty.
 * - annotation values: any text, but keys and values together at most
 *   256 KiB. */
#ifndef SPACEKEEPER_METADATA_H
#define SPACEKEEPER_METADATA_H

#include <jansson.h>

#define SK_META_NAME_MAX 63
#define SK_META_PREFIX_MAX 253
#define SK_META_LABEL_VALUE_MAX 63
#define SK_META_ANNOTATIONS_MAX (256 * 1024)

/* NULL when `key` is a valid qualified name, else why not. `fold_case`
 * accepts upper case in the prefix (annotation keys). */
const char *sk_meta_key_problem(const char *key, int fold_case);
/* NULL when `value` is a valid label value, else why not. */
const char *sk_meta_label_value_problem(const char *value);

/* Appends a {field, message} violation to `violations` for every label and
 * annotation of obj's metadata that the API server would refuse; fields
 * are spelled metadata.labels[KEY] and metadata.annotations[KEY]. */
void sk_meta_check(const json_t *obj, json_t *violations);

#endif
