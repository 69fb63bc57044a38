/* Subcommands of the spacekeeper binary. Each returns the process exit
 * status: 0 success, 1 a denial (check), 2 bad usage or unreadable input. */
#ifndef SPACEKEEPER_CLI_H
#define SPACEKEEPER_CLI_H

#define SK_VERSION "0.1.0"

#include "spacekeeper/docs.h"
#include "spacekeeper/template.h"

int sk_cmd_check(int argc, char **argv);
int sk_cmd_serve(int argc, char **argv);
int sk_cmd_certs(int argc, char **argv);

/* Splits "a,b,c" into a NULL-terminated array of owned strings. */
char **sk_cli_split_list(const char *text);
void sk_cli_free_list(char **list);

/* Appends the documents of every path; prints the problem and returns -1 on
 * the first that cannot be read or parsed. */
int sk_cli_load_docs(const char *const *paths, size_t n, sk_doclist *docs);

/* Compiles every WorkspaceTemplate into the store; documents of other API
 * groups are skipped. Each problem (another kind of ours, a template that
 * fails its self-checks) is printed with its source; returns -1 if there was
 * any. */
int sk_cli_load_templates(const sk_doclist *docs, sk_store *store, const char *shared_ns);

#endif
