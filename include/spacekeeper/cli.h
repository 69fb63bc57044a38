/* Subcommands of the spacekeeper binary. Each returns the process exit
 * status: 0 success, 1 a denial (check), 2 bad usage or unreadable input. */
#ifndef SPACEKEEPER_CLI_H
#define SPACEKEEPER_CLI_H

#define SK_VERSION "0.1.0"

#include <getopt.h>
#include <signal.h>

#include "spacekeeper/docs.h"
#include "spacekeeper/policy.h"
#include "spacekeeper/template.h"

int sk_cmd_check(int argc, char **argv);
int sk_cmd_serve(int argc, char **argv);
int sk_cmd_certs(int argc, char **argv);

/* SIGTERM and SIGINT are taken synchronously by the main thread: blocked
 * here, before any other thread starts, so none of them ever sees one;
 * SIGPIPE is ignored. */
void sk_cli_block_stop_signals(sigset_t *stop);
/* Waits up to `ms` for one of them: 1 when the program should stop. */
int sk_cli_stop_requested(const sigset_t *stop, long ms);

/* Splits "a,b,c" into a NULL-terminated array of owned strings. */
char **sk_cli_split_list(const char *text);
void sk_cli_free_list(char **list);

/* The policy flags check and serve share: --shared-namespace,
 * --admin-groups, --controller-user, --default-image,
 * --trusted-service-accounts and --template-scope. Their getopt codes start
 * at SK_CLI_POLICY_OPT; a command lists SK_CLI_POLICY_OPTIONS among its long
 * options and passes every code to sk_cli_policy_option. */
enum { SK_CLI_POLICY_OPT = 1000, SK_CLI_OPT_SHARED = SK_CLI_POLICY_OPT, SK_CLI_OPT_ADMIN,
       SK_CLI_OPT_CTRL, SK_CLI_OPT_IMAGE, SK_CLI_OPT_TRUSTED, SK_CLI_OPT_SCOPE };
#define SK_CLI_POLICY_OPTIONS                                                  \
    {"shared-namespace", required_argument, NULL, SK_CLI_OPT_SHARED},          \
    {"admin-groups", required_argument, NULL, SK_CLI_OPT_ADMIN},               \
    {"controller-user", required_argument, NULL, SK_CLI_OPT_CTRL},             \
    {"default-image", required_argument, NULL, SK_CLI_OPT_IMAGE},              \
    {"trusted-service-accounts", required_argument, NULL, SK_CLI_OPT_TRUSTED}, \
    {"template-scope", required_argument, NULL, SK_CLI_OPT_SCOPE}
#define SK_CLI_POLICY_USAGE                                                                   \
    "  --shared-namespace NS    namespace of cluster-wide templates (default "               \
    SK_DEFAULT_SHARED_NAMESPACE ")\n"                                                         \
    "  --admin-groups G,...     groups that may change OwnerOnly workspaces and reserved\n"   \
    "                           workspace.jupyter.org/ labels and annotations\n"             \
    "  --controller-user U      identity allowed to stop workspaces and change system templates\n" \
    "  --default-image IMAGE    spec.image when no template gives one (default\n"            \
    "                           " SK_DEFAULT_IMAGE "; \"\" for none)\n"                        \
    "  --trusted-service-accounts U,...  may write reserved workspace.jupyter.org/ labels and\n" \
    "                           annotations (default the controller and the workspace operator)\n" \
    "  --template-scope SCOPE   cluster (default): a templateRef may name any namespace;\n"   \
    "                           namespace: only the workspace's own or the shared one\n"

typedef struct sk_cli_policy {
    sk_policy_config cfg;
    char **admin_groups; /* owned storage behind cfg.admin_groups, if set */
    char **trusted;      /* owned storage behind cfg.trusted_service_accounts, if set */
} sk_cli_policy;

void sk_cli_policy_init(sk_cli_policy *p);
/* 1 if the option was one of the policy flags (and is now applied), 0 if
 * it was not, -1 if its value is invalid (the problem is printed). */
int sk_cli_policy_option(sk_cli_policy *p, int code, const char *arg);
void sk_cli_policy_free(sk_cli_policy *p);

/* Appends the documents of every path; prints the problem and returns -1 on
 * the first that cannot be read or parsed. */
int sk_cli_load_docs(const char *const *paths, size_t n, sk_doclist *docs);

/* Compiles every WorkspaceTemplate into the store, replacing any with the
 * same namespace/name; documents of other API groups are skipped. Each
 * problem (another kind of ours, a template that fails its self-checks) is
 * printed with its source; returns -1 if there was any. The "ns/name" key
 * of every template loaded is appended to `keys` (may be NULL). */
int sk_cli_load_templates(const sk_doclist *docs, sk_store *store, const char *shared_ns,
                          json_t *keys);

#endif
