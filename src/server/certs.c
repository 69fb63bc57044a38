#include "spacekeeper/certs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "spacekeeper/buf.h"

static int ssl_fail(sk_err *err, const char *what)
{
    char detail[256];
    ERR_error_string_n(ERR_get_error(), detail, sizeof detail);
    return sk_err_set(err, "%s: %s", what, detail);
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static X509 *new_cert(EVP_PKEY *key, const char *cn, int days)
{
    X509 *c = X509_new();
    X509_set_version(c, 2);
    BIGNUM *bn = BN_new();
    BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY); /* random positive serial */
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(c), -300); /* tolerate small clock skew */
    X509_gmtime_adj(X509_getm_notAfter(c), (long)days * 86400);
    X509_set_pubkey(c, key);
    X509_NAME *name = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"spacekeeper", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    return c;
}

/* Writes atomically (temp file + rename), so a server watching the
 * directory never reads half a file. */
static int write_pem(const char *dir, const char *name, X509 *cert, EVP_PKEY *key, sk_err *err)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, key ? 0600 : 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f)
        return sk_err_set(err, "%s: cannot write", tmp);
    int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
                 : PEM_write_X509(f, cert);
    if (fclose(f) != 0 || !ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return sk_err_set(err, "%s: cannot write", path);
    }
    return 0;
}

static int load_ca(const char *dir, X509 **ca, EVP_PKEY **key, sk_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/ca.crt", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return sk_err_set(err, "%s: cannot read", path);
    *ca = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    snprintf(path, sizeof path, "%s/ca.key", dir);
    if (!(f = fopen(path, "r")))
        return sk_err_set(err, "%s: cannot read", path);
    *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return *ca && *key ? 0 : ssl_fail(err, "existing CA does not load");
}

int sk_certs_generate(const sk_certs_request *req, sk_err *err)
{
    if (!req->dns || !req->dns[0])
        return sk_err_set(err, "at least one --dns name is required");
    if (req->days < 1)
        return sk_err_set(err, "--days must be at least 1");
    mkdir(req->out_dir, 0755);

    int rc = -1;
    EVP_PKEY *ca_key = NULL, *key = NULL;
    X509 *ca = NULL, *cert = NULL;
    sk_buf san = SK_BUF_INIT;
    if (req->reuse_ca) {
        if (load_ca(req->out_dir, &ca, &ca_key, err) < 0)
            goto out;
    } else {
        if (!(ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"))) {
            ssl_fail(err, "CA key");
            goto out;
        }
        ca = new_cert(ca_key, "spacekeeper development CA", req->days);
        X509_set_issuer_name(ca, X509_get_subject_name(ca));
        if (add_ext(ca, ca, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
            add_ext(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
            add_ext(ca, ca, NID_subject_key_identifier, "hash") < 0 ||
            !X509_sign(ca, ca_key, EVP_sha256())) {
            ssl_fail(err, "CA certificate");
            goto out;
        }
    }
    if (!(key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"))) {
        ssl_fail(err, "serving key");
        goto out;
    }
    cert = new_cert(key, req->dns[0], req->days);
    X509_set_issuer_name(cert, X509_get_subject_name(ca));
    for (const char *const *d = req->dns; *d; d++)
        sk_buf_printf(&san, "%sDNS:%s", san.len ? "," : "", *d);
    for (const char *const *ip = req->ips; ip && *ip; ip++) {
        unsigned char probe[16];
        if (inet_pton(AF_INET, *ip, probe) != 1 && inet_pton(AF_INET6, *ip, probe) != 1) {
            sk_err_set(err, "--ip \"%s\" is not an IPv4 or IPv6 address", *ip);
            goto out;
        }
        sk_buf_printf(&san, ",IP:%s", *ip);
    }
    if (add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(cert, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment") < 0 ||
        add_ext(cert, ca, NID_ext_key_usage, "serverAuth,clientAuth") < 0 ||
        add_ext(cert, ca, NID_subject_alt_name, san.data) < 0 ||
        add_ext(cert, ca, NID_authority_key_identifier, "keyid:always") < 0 ||
        !X509_sign(cert, ca_key, EVP_sha256())) {
        ssl_fail(err, "serving certificate");
        goto out;
    }
    /* key before certificate: a watcher that sees the new cert finds its key */
    if ((!req->reuse_ca && (write_pem(req->out_dir, "ca.key", NULL, ca_key, err) < 0 ||
                            write_pem(req->out_dir, "ca.crt", ca, NULL, err) < 0)) ||
        write_pem(req->out_dir, "tls.key", NULL, key, err) < 0 ||
        write_pem(req->out_dir, "tls.crt", cert, NULL, err) < 0)
        goto out;
    rc = 0;
out:
    sk_buf_free(&san);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
    return rc;
}
