/* spacekeeper certs: a CA and a serving certificate for development and for
 * clusters without cert-manager. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/certs.h"
#include "spacekeeper/cli.h"

static const char USAGE[] =
    "usage: spacekeeper certs --out DIR --dns NAME... [--ip IP...] [--days N] [--reuse-ca]\n"
    "\n"
    "Writes DIR/ca.crt, ca.key (unless --reuse-ca), tls.crt and tls.key: an ECDSA P-256\n"
    "CA and a serving certificate it signed, with every --dns and --ip as a SAN.\n"
    "--reuse-ca signs a fresh serving pair with the CA already in DIR (rotation).\n";

static void push(const char ***list, size_t *n, const char *v)
{
    *list = realloc(*list, (*n + 2) * sizeof **list);
    if (!*list)
        abort();
    (*list)[(*n)++] = v;
    (*list)[*n] = NULL;
}

int sk_cmd_certs(int argc, char **argv)
{
    enum { OUT = 256, DNS, IP, DAYS, REUSE, HELP };
    static const struct option longs[] = {
        {"out", required_argument, NULL, OUT},   {"dns", required_argument, NULL, DNS},
        {"ip", required_argument, NULL, IP},     {"days", required_argument, NULL, DAYS},
        {"reuse-ca", no_argument, NULL, REUSE},  {"help", no_argument, NULL, HELP},
        {NULL, 0, NULL, 0},
    };
    const char **dns = NULL, **ips = NULL;
    size_t nd = 0, ni = 0;
    sk_certs_request req = {.days = 365};
    int c, status = 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case OUT: req.out_dir = optarg; break;
        case DNS: push(&dns, &nd, optarg); break;
        case IP: push(&ips, &ni, optarg); break;
        case DAYS: req.days = atoi(optarg); break;
        case REUSE: req.reuse_ca = 1; break;
        case HELP: fputs(USAGE, stdout); status = 0; goto out;
        default: fputs(USAGE, stderr); goto out;
        }
    }
    if (!req.out_dir || !dns) {
        fputs("spacekeeper certs: --out and at least one --dns are required\n", stderr);
        fputs(USAGE, stderr);
        goto out;
    }
    req.dns = dns;
    static const char *const none[] = {NULL};
    req.ips = ips ? ips : none;
    sk_err err;
    if (sk_certs_generate(&req, &err) < 0) {
        fprintf(stderr, "spacekeeper certs: %s\n", err.msg);
        goto out;
    }
    printf("wrote %s/{%stls.crt,tls.key}\n", req.out_dir, req.reuse_ca ? "" : "ca.crt,ca.key,");
    status = 0;
out:
    free(dns);
    free(ips);
    return status;
}
