#include "spacekeeper/tls.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gnutls/x509.h>

#include "spacekeeper/docs.h"

#define MAX_CHAIN 8

/* One loaded pair. Pairs are kept until sk_tls_free: GnuTLS may use the one
 * it was handed for as long as that session lives, and rotations are rare. */
struct pair {
    gnutls_pcert_st chain[MAX_CHAIN];
    unsigned n;
    gnutls_privkey_t key;
    time_t not_after;
    struct pair *older;
};

struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct sk_tls {
    char *cert_path, *key_path;
    struct file_id cert_id, key_id;
    pthread_mutex_t lock;
    struct pair *current; /* newest first; ->older are retired */
};

static sk_tls *installed;

static int file_id(const char *path, struct file_id *id)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    *id = (struct file_id){st.st_dev, st.st_ino, st.st_size, st.st_mtim};
    return 0;
}

static int same_id(const struct file_id *a, const struct file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static void pair_free(struct pair *p)
{
    while (p) {
        struct pair *next = p->older;
        for (unsigned i = 0; i < p->n; i++)
            gnutls_pcert_deinit(&p->chain[i]);
        gnutls_privkey_deinit(p->key);
        free(p);
        p = next;
    }
}

/* The key must sign what the certificate's public key verifies: a cert
 * rotated before its key (or the reverse) is caught here, not in a client. */
static int key_matches(const struct pair *p)
{
    static const unsigned char probe[] = "spacekeeper key check";
    gnutls_datum_t data = {(unsigned char *)probe, sizeof probe}, sig = {NULL, 0};
    int pk = gnutls_pubkey_get_pk_algorithm(p->chain[0].pubkey, NULL);
    gnutls_sign_algorithm_t algo = gnutls_pk_to_sign(pk, GNUTLS_DIG_SHA256);
    if (gnutls_privkey_sign_data(p->key, GNUTLS_DIG_SHA256, 0, &data, &sig) < 0)
        return 0;
    int ok = gnutls_pubkey_verify_data2(p->chain[0].pubkey, algo, 0, &data, &sig) >= 0;
    gnutls_free(sig.data);
    return ok;
}

static struct pair *load_pair(const char *cert_path, const char *key_path, sk_err *err)
{
    size_t clen, klen;
    char *cert = sk_read_file(cert_path, &clen, err);
    if (!cert)
        return NULL;
    char *key = sk_read_file(key_path, &klen, err);
    if (!key) {
        free(cert);
        return NULL;
    }
    struct pair *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    gnutls_datum_t cd = {(unsigned char *)cert, (unsigned)clen};
    gnutls_datum_t kd = {(unsigned char *)key, (unsigned)klen};
    p->n = MAX_CHAIN;
    int rc = gnutls_pcert_list_import_x509_raw(p->chain, &p->n, &cd, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0) {
        p->n = 0;
        sk_err_set(err, "%s: not a PEM certificate chain: %s", cert_path, gnutls_strerror(rc));
        goto fail;
    }
    gnutls_privkey_init(&p->key);
    rc = gnutls_privkey_import_x509_raw(p->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (rc < 0) {
        sk_err_set(err, "%s: not a PEM private key: %s", key_path, gnutls_strerror(rc));
        goto fail;
    }
    if (!key_matches(p)) {
        sk_err_set(err, "%s does not hold the key of the certificate in %s", key_path, cert_path);
        goto fail;
    }
    gnutls_x509_crt_t crt;
    gnutls_x509_crt_init(&crt);
    if (gnutls_x509_crt_import(crt, &p->chain[0].cert, GNUTLS_X509_FMT_DER) == 0)
        p->not_after = gnutls_x509_crt_get_expiration_time(crt);
    gnutls_x509_crt_deinit(crt);
    gnutls_memset(key, 0, klen);
    free(cert);
    free(key);
    return p;
fail:
    gnutls_memset(key, 0, klen);
    free(cert);
    free(key);
    pair_free(p);
    return NULL;
}

sk_tls *sk_tls_new(const char *cert_path, const char *key_path, sk_err *err)
{
    sk_tls *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    t->cert_path = strdup(cert_path);
    t->key_path = strdup(key_path);
    pthread_mutex_init(&t->lock, NULL);
    file_id(cert_path, &t->cert_id);
    file_id(key_path, &t->key_id);
    if (!(t->current = load_pair(cert_path, key_path, err))) {
        sk_tls_free(t);
        return NULL;
    }
    return t;
}

void sk_tls_free(sk_tls *t)
{
    if (!t)
        return;
    if (installed == t)
        installed = NULL;
    pair_free(t->current);
    pthread_mutex_destroy(&t->lock);
    free(t->cert_path);
    free(t->key_path);
    free(t);
}

int sk_tls_reload(sk_tls *t, sk_err *err)
{
    struct file_id c, k;
    if (file_id(t->cert_path, &c) < 0 || file_id(t->key_path, &k) < 0)
        return sk_err_set(err, "%s or %s is missing", t->cert_path, t->key_path);
    if (same_id(&c, &t->cert_id) && same_id(&k, &t->key_id))
        return 0;
    struct pair *p = load_pair(t->cert_path, t->key_path, err);
    if (!p)
        return -1; /* keep serving the old pair; the next tick tries again */
    pthread_mutex_lock(&t->lock);
    p->older = t->current;
    t->current = p;
    t->cert_id = c;
    t->key_id = k;
    pthread_mutex_unlock(&t->lock);
    return 1;
}

time_t sk_tls_not_after(const sk_tls *t)
{
    pthread_mutex_lock((pthread_mutex_t *)&t->lock);
    time_t when = t->current->not_after;
    pthread_mutex_unlock((pthread_mutex_t *)&t->lock);
    return when;
}

void sk_tls_install(sk_tls *t)
{
    installed = t;
}

static int retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                    gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *key)
{
    (void)session, (void)req_ca_dn, (void)nreqs, (void)pk_algos, (void)pk_algos_length;
    sk_tls *t = installed;
    if (!t)
        return -1;
    pthread_mutex_lock(&t->lock);
    *pcert = t->current->chain;
    *pcert_length = t->current->n;
    *key = t->current->key;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

gnutls_certificate_retrieve_function2 *sk_tls_callback(void)
{
    return retrieve;
}
