#include "spacekeeper/kube.h"

#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/docs.h"
#include "spacekeeper/json.h"
#include "spacekeeper/yaml.h"

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Decodes a kubeconfig *-data field (base64 PEM). */
static char *decode_b64(const char *in, const char *field, sk_err *err)
{
    size_t n = strlen(in);
    char *clean = malloc(n + 1), *out = malloc(n + 1);
    if (!clean || !out)
        abort();
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r\n", in[i]))
            clean[m++] = in[i];
    clean[m] = '\0';
    int len = m % 4 == 0 ? EVP_DecodeBlock((unsigned char *)out, (unsigned char *)clean, (int)m) : -1;
    free(clean);
    if (len < 0) {
        free(out);
        sk_err_set(err, "kubeconfig: %s is not valid base64", field);
        return NULL;
    }
    while (len > 0 && out[len - 1] == '\0') /* padding */
        len--;
    out[len] = '\0';
    return out;
}

/* A file path from the kubeconfig, made absolute against its directory. */
static char *resolve(const char *base_dir, const char *p)
{
    if (!p)
        return NULL;
    if (p[0] == '/')
        return strdup(p);
    sk_buf b = SK_BUF_INIT;
    sk_buf_printf(&b, "%s/%s", base_dir, p);
    return sk_buf_steal(&b);
}

static const json_t *named(const json_t *list, const char *name, const char *inner)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        const char *n = sk_json_str(e, "name", NULL);
        if (n && name && strcmp(n, name) == 0)
            return json_object_get(e, inner);
    }
    return NULL;
}

static char *default_kubeconfig(void)
{
    const char *env = getenv("KUBECONFIG");
    if (env && *env) {
        const char *colon = strchr(env, ':');
        return colon ? strndup(env, (size_t)(colon - env)) : strdup(env);
    }
    const char *home = getenv("HOME");
    sk_buf b = SK_BUF_INIT;
    sk_buf_printf(&b, "%s/.kube/config", home ? home : "");
    return sk_buf_steal(&b);
}

int sk_kube_config_load(sk_kube_config *c, const char *path, const char *context, sk_err *err)
{
    memset(c, 0, sizeof *c);
    char *file = path ? strdup(path) : default_kubeconfig();
    size_t len;
    char *text = sk_read_file(file, &len, err);
    json_t *docs = text ? sk_yaml_load(text, len, file, err) : NULL;
    free(text);
    int rc = -1;
    char *dir_copy = strdup(file), *dir = dirname(dir_copy);
    const json_t *kc = json_array_get(docs, 0);
    if (!docs)
        goto out;
    if (!context)
        context = sk_json_str(kc, "current-context", NULL);
    const json_t *ctx = named(json_object_get(kc, "contexts"), context, "context");
    if (!ctx) {
        sk_err_set(err, "%s: context \"%s\" not found", file, context ? context : "");
        goto out;
    }
    const char *cluster_name = sk_json_str(ctx, "cluster", NULL);
    const json_t *cluster = named(json_object_get(kc, "clusters"), cluster_name, "cluster");
    const json_t *user = named(json_object_get(kc, "users"), sk_json_str(ctx, "user", NULL), "user");
    if (!cluster || !sk_json_str(cluster, "server", NULL)) {
        sk_err_set(err, "%s: cluster \"%s\" not found or has no server", file,
                   cluster_name ? cluster_name : "");
        goto out;
    }
    c->server = strdup(sk_json_str(cluster, "server", NULL));
    c->insecure = json_is_true(json_object_get(cluster, "insecure-skip-tls-verify"));
    c->ca_file = resolve(dir, sk_json_str(cluster, "certificate-authority", NULL));
    c->cert_file = resolve(dir, sk_json_str(user, "client-certificate", NULL));
    c->key_file = resolve(dir, sk_json_str(user, "client-key", NULL));
    c->token = dup_or_null(sk_json_str(user, "token", NULL));
    c->token_file = resolve(dir, sk_json_str(user, "tokenFile", NULL));
    c->namespace = strdup(sk_json_str(ctx, "namespace", NULL) ? sk_json_str(ctx, "namespace", NULL)
                                                              : "default");
    static const struct {
        const char *field;
        size_t offset;
        int in_user;
    } data_fields[] = {
        {"certificate-authority-data", offsetof(sk_kube_config, ca_pem), 0},
        {"client-certificate-data", offsetof(sk_kube_config, cert_pem), 1},
        {"client-key-data", offsetof(sk_kube_config, key_pem), 1},
    };
    for (size_t i = 0; i < sizeof data_fields / sizeof *data_fields; i++) {
        const char *v = sk_json_str(data_fields[i].in_user ? user : cluster, data_fields[i].field, NULL);
        if (!v)
            continue;
        char *pem = decode_b64(v, data_fields[i].field, err);
        if (!pem)
            goto out;
        *(char **)((char *)c + data_fields[i].offset) = pem;
    }
    rc = 0;
out:
    if (rc < 0)
        sk_kube_config_free(c);
    json_decref(docs);
    free(dir_copy);
    free(file);
    return rc;
}

int sk_kube_config_in_cluster(sk_kube_config *c, const char *sa_dir, sk_err *err)
{
    memset(c, 0, sizeof *c);
    const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host)
        return sk_err_set(err, "not in a cluster: KUBERNETES_SERVICE_HOST is not set");
    sk_buf b = SK_BUF_INIT;
    /* an IPv6 service host needs brackets in a URL */
    sk_buf_printf(&b, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
                  port && *port ? port : "443");
    c->server = sk_buf_steal(&b);
    sk_buf_printf(&b, "%s/token", sa_dir);
    c->token_file = sk_buf_steal(&b);
    sk_buf_printf(&b, "%s/ca.crt", sa_dir);
    c->ca_file = sk_buf_steal(&b);
    sk_buf_printf(&b, "%s/namespace", sa_dir);
    size_t len;
    char *ns = sk_read_file(b.data, &len, NULL);
    sk_buf_free(&b);
    if (ns) {
        ns[strcspn(ns, " \r\n")] = '\0';
        c->namespace = ns;
    } else {
        c->namespace = strdup("default");
    }
    FILE *f = fopen(c->token_file, "r");
    if (!f) {
        sk_err_set(err, "in-cluster: cannot read %s", c->token_file);
        sk_kube_config_free(c);
        return -1;
    }
    fclose(f);
    return 0;
}

int sk_kube_config_auto(sk_kube_config *c, const char *kubeconfig, sk_err *err)
{
    if (kubeconfig)
        return sk_kube_config_load(c, kubeconfig, NULL, err);
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    if (host && *host)
        return sk_kube_config_in_cluster(c, SK_SERVICEACCOUNT_DIR, err);
    return sk_kube_config_load(c, NULL, NULL, err);
}

void sk_kube_config_free(sk_kube_config *c)
{
    free(c->server);
    free(c->ca_file);
    free(c->ca_pem);
    free(c->cert_file);
    free(c->key_file);
    free(c->cert_pem);
    if (c->key_pem)
        OPENSSL_cleanse(c->key_pem, strlen(c->key_pem));
    free(c->key_pem);
    if (c->token)
        OPENSSL_cleanse(c->token, strlen(c->token));
    free(c->token);
    free(c->token_file);
    free(c->namespace);
    memset(c, 0, sizeof *c);
}
