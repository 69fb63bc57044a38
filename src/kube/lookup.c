#include "spacekeeper/lookup.h"

#include <stdio.h>
#include <string.h>

#include "spacekeeper/kube.h"

#define NAME_MAX_LEN 253

static int alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int sk_lookup_valid_name(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > NAME_MAX_LEN || !alnum(name[0]) || !alnum(name[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!alnum(name[i]) && name[i] != '-' && name[i] != '.')
            return 0;
    return 1;
}

/* GET prefix/namespaces/NS/plural/NAME. */
static sk_lookup_status kube_get(void *kube, const char *prefix, const char *plural, const char *ns,
                                 const char *name, json_t **out, sk_err *err)
{
    *out = NULL;
    if (!sk_lookup_valid_name(ns) || !sk_lookup_valid_name(name)) {
        sk_err_set(err, "%s \"%s/%s\": not a valid namespace and name", plural, ns ? ns : "",
                   name ? name : "");
        return SK_LOOKUP_FAILED;
    }
    char path[640];
    snprintf(path, sizeof path, "%s/namespaces/%s/%s/%s", prefix, ns, plural, name);
    json_t *obj = NULL;
    long status = sk_kube_get(kube, path, &obj, err);
    if (status == 200 && json_is_object(obj)) {
        *out = obj;
        return SK_LOOKUP_FOUND;
    }
    json_decref(obj);
    if (status == 404)
        return SK_LOOKUP_NOT_FOUND;
    if (status == 200)
        sk_err_set(err, "GET %s: the answer is not a JSON object", path);
    return SK_LOOKUP_FAILED;
}

sk_lookup_status sk_lookup_kube_pod(void *kube, const char *ns, const char *name, json_t **out,
                                    sk_err *err)
{
    return kube_get(kube, "/api/v1", "pods", ns, name, out, err);
}

sk_lookup_status sk_lookup_kube_workspace(void *kube, const char *ns, const char *name, json_t **out,
                                          sk_err *err)
{
    return kube_get(kube, "/apis/workspace.jupyter.org/v1alpha1", "workspaces", ns, name, out, err);
}
