/* Subcommands of the spacekeeper binary. Each returns the process exit
 * status: 0 success, 1 a denial (check), 2 bad usage or unreadable input. */
#ifndef SPACEKEEPER_CLI_H
#define SPACEKEEPER_CLI_H

#define SK_VERSION "0.1.0"

int sk_cmd_check(int argc, char **argv);

/* Splits "a,b,c" into a NULL-terminated array of owned strings. */
char **sk_cli_split_list(const char *text);
void sk_cli_free_list(char **list);

#endif
