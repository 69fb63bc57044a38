/* Structured logs: one line per event, as JSON or key=value text, to stderr.
 * Fields are given as NULL-terminated key/value string pairs. */
#ifndef SPACEKEEPER_LOG_H
#define SPACEKEEPER_LOG_H

typedef enum sk_log_level { SK_LOG_DEBUG, SK_LOG_INFO, SK_LOG_WARN, SK_LOG_ERROR } sk_log_level;
typedef enum sk_log_format { SK_LOG_TEXT, SK_LOG_JSON } sk_log_format;

int sk_log_level_parse(const char *text, sk_log_level *out);
int sk_log_format_parse(const char *text, sk_log_format *out);
void sk_log_setup(sk_log_level level, sk_log_format format);
int sk_log_enabled(sk_log_level level);

/* sk_log(SK_LOG_INFO, "denied", "uid", uid, "kind", kind, NULL); NULL values
 * are left out. */
void sk_log(sk_log_level level, const char *msg, ...) __attribute__((sentinel));

#endif
