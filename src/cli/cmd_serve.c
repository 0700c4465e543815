/*
 * cmd_serve.c: `aitag serve`: the HTTP JSON service (src/serve/). Options,
 * the listening address, the token, then the signal loop: SIGHUP reloads the
 * model, SIGTERM and SIGINT stop accepting (a new connection is closed at
 * once), let the requests in flight finish (at most --timeout seconds),
 * close the listening socket and exit 0.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cli.h"
#include "serve/serve.h"

static const cli_opt opts[] = {
    {"model", 'm', "MODEL", "model file (default: $AITAG_MODEL, then the installed or built default model)"},
    {"listen", 'l', "HOST:PORT", "address to listen on (default 127.0.0.1:8080; port 0 = any free port)"},
    {"threads", 't', "N", "server threads, each classifying the requests it reads (default: number of cores)"},
    {"max-body", 0, "BYTES", "largest request body accepted, larger gets 413 (default 67108864)"},
    {"timeout", 0, "S", "idle connection timeout, and the grace for requests in flight at shutdown (default 30)"},
    {"max-connections", 0, "N", "open connections served; more get 503 (default 1024)"},
    {"token-file", 0, "FILE", "require 'Authorization: Bearer TOKEN' (TOKEN: the file's first line) but on /healthz"},
    {"insecure", 0, NULL, "allow a non-loopback address without --token-file"},
    {"access-log", 0, NULL, "one JSON line per request on stderr"},
    {0, 0, 0, 0}};

typedef struct serve_opts {
    const char *model, *listen, *token_file;
    int insecure;
    srv_config cfg;
} serve_opts;

static int apply_option(const cli_cmd *cmd, const char *name, const char *v, serve_opts *o)
{
    uint64_t u;
    if (strcmp(name, "model") == 0)
        o->model = v;
    else if (strcmp(name, "listen") == 0)
        o->listen = v;
    else if (strcmp(name, "token-file") == 0)
        o->token_file = v;
    else if (strcmp(name, "insecure") == 0)
        o->insecure = 1;
    else if (strcmp(name, "access-log") == 0)
        o->cfg.access_log = 1;
    else if (strcmp(name, "threads") == 0) {
        if (cli_uint(cmd, name, v, 1, 256, &u))
            return EXIT_USAGE;
        o->cfg.threads = (unsigned)u;
    } else if (strcmp(name, "max-body") == 0) {
        if (cli_uint(cmd, name, v, 16, (uint64_t)1 << 34, &u))
            return EXIT_USAGE;
        o->cfg.max_body = (size_t)u;
    } else if (strcmp(name, "timeout") == 0) {
        if (cli_uint(cmd, name, v, 1, 86400, &u))
            return EXIT_USAGE;
        o->cfg.timeout = (unsigned)u;
    } else if (strcmp(name, "max-connections") == 0) {
        if (cli_uint(cmd, name, v, 1, 1000000, &u))
            return EXIT_USAGE;
        o->cfg.max_connections = (unsigned)u;
    }
    return EXIT_OK;
}

/* "HOST:PORT", "[V6]:PORT" or "PORT" (loopback) -> *ss; 0 or -1 (printed). */
static int parse_listen(const cli_cmd *cmd, const char *v, struct sockaddr_storage *ss, int *ipv6)
{
    char host[256], port[16];
    const char *colon = strrchr(v, ':');
    if (!colon) {
        snprintf(host, sizeof host, "127.0.0.1");
        snprintf(port, sizeof port, "%s", v);
    } else if (v[0] == '[' && colon > v && colon[-1] == ']' && (size_t)(colon - v - 2) < sizeof host) {
        snprintf(host, sizeof host, "%.*s", (int)(colon - v - 2), v + 1);
        snprintf(port, sizeof port, "%s", colon + 1);
    } else if ((size_t)(colon - v) < sizeof host && colon > v) {
        snprintf(host, sizeof host, "%.*s", (int)(colon - v), v);
        snprintf(port, sizeof port, "%s", colon + 1);
    } else
        return cli_usage_error(cmd, "--listen: '%s' is not HOST:PORT", v), -1;
    uint64_t p;
    if (cli_uint(cmd, "listen", port, 0, 65535, &p))
        return -1;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res)
        return cli_usage_error(cmd, "--listen: cannot resolve '%s': %s", host, gai_strerror(rc)), -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *ipv6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

static int is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

/* The token: the file's first line, without surrounding blanks. */
static char *read_token(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        cli_err("--token-file %s: %s", path, strerror(errno));
        return NULL;
    }
    char buf[4096];
    size_t n = fgets(buf, sizeof buf, f) ? strlen(buf) : 0;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
        cli_warn("--token-file %s can be read by other users (chmod 600 it)", path);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = '\0';
    size_t i = 0;
    while (buf[i] == ' ' || buf[i] == '\t')
        i++;
    for (size_t k = i; k < n; k++)
        if ((unsigned char)buf[k] <= ' ' || buf[k] == 0x7f) {
            cli_err("--token-file %s: the token holds a blank or control character", path);
            return NULL;
        }
    if (i == n) {
        cli_err("--token-file %s: the first line holds no token", path);
        return NULL;
    }
    return strdup(buf + i);
}

/* As many open files as allowed: every connection is one. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void stop_gracefully(srv_server *s)
{
    __atomic_store_n(&s->shutting_down, 1, __ATOMIC_RELAXED); /* new connections are closed at once */
    struct timespec t0, t, nap = {0, 10 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long left;
    while ((left = srv_metrics_inflight_now()) > 0) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec >= (time_t)s->cfg.timeout) {
            cli_warn("%ld request(s) still in flight after %u s: closing their connections", left, s->cfg.timeout);
            break;
        }
        nanosleep(&nap, NULL);
    }
    MHD_stop_daemon(s->d);
    s->d = NULL;
}

/* Waits for signals until SIGTERM or SIGINT. */
static void signal_loop(srv_server *s, const sigset_t *set)
{
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            aitag_error err = {0};
            if (srv_reload(s->h, &err) == 0)
                cli_err("model reloaded from %s (SIGHUP)", s->h->path);
            else
                cli_err("model not reloaded, the previous one keeps serving: %s", err.msg);
            continue;
        }
        cli_err("%s: finishing the requests in flight, then exiting", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        stop_gracefully(s);
        return;
    }
}

static int serve(serve_opts *o, srv_holder *h, const struct sockaddr_storage *ss, int ipv6)
{
    srv_server s = {0};
    s.cfg = o->cfg;
    s.h = h;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* the server's threads inherit it: signals come to sigwait */
    aitag_error err = {0};
    if (srv_run_init(h) != 0 || srv_http_start(&s, (const struct sockaddr *)ss, ipv6, &err) != 0) {
        cli_err("%s", err.msg[0] ? err.msg : "cannot set up the server");
        return EXIT_FAIL;
    }
    char host[64] = "?";
    getnameinfo((const struct sockaddr *)ss, sizeof *ss, host, sizeof host, NULL, 0, NI_NUMERICHOST);
    cli_err("serving %s on http://%s%s%s:%u (%u thread%s)", h->path, ipv6 ? "[" : "", host, ipv6 ? "]" : "",
            srv_http_port(&s), s.cfg.threads, s.cfg.threads == 1 ? "" : "s");
    signal_loop(&s, &set);
    cli_err("stopped");
    return EXIT_OK;
}

static int run(const cli_cmd *cmd, int argc, char **argv)
{
    serve_opts o = {0};
    o.listen = "127.0.0.1:8080";
    o.cfg = (srv_config){.max_body = (size_t)64 << 20, .timeout = 30, .max_connections = 1024,
                         .threads = cli_cores()};
    cli_iter it;
    cli_iter_init(&it, cmd, argc, argv);
    const char *v;
    int opt, rc;
    while ((opt = cli_next(&it, &v)) != CLI_DONE) {
        if ((rc = cli_common(cmd, opt)) >= 0)
            return rc;
        if (opt == CLI_POSITIONAL)
            return cli_usage_error(cmd, "unexpected argument '%s'", v);
        if ((rc = apply_option(cmd, cmd->opts[opt].lng, v, &o)) != EXIT_OK)
            return rc;
    }
    /* bodies held at once, all requests together: more wait for 503 and a retry */
    o.cfg.body_budget = o.cfg.max_body > ((size_t)1 << 62) / 4 ? o.cfg.max_body : 4 * o.cfg.max_body;
    struct sockaddr_storage ss = {0};
    int ipv6 = 0;
    if (parse_listen(cmd, o.listen, &ss, &ipv6) != 0)
        return EXIT_USAGE;
    if (!o.token_file && !o.insecure && !is_loopback(&ss))
        return cli_usage_error(cmd, "refusing to listen on %s, not a loopback address, without --token-file "
                                    "(or --insecure)", o.listen);
    char *token = NULL, path[4096];
    if (o.token_file && !(token = read_token(o.token_file)))
        return EXIT_FAIL;
    o.cfg.token = token;
    o.cfg.token_len = token ? strlen(token) : 0;
    if (!o.model && cli_default_model(path, sizeof path) != 0) {
        free(token);
        return EXIT_FAIL;
    }
    srv_holder h;
    aitag_error err = {0};
    if (srv_holder_init(&h, o.model ? o.model : path, &err) != 0) {
        cli_err("%s", err.msg);
        free(token);
        return EXIT_FAIL;
    }
    raise_fd_limit();
    rc = serve(&o, &h, &ss, ipv6);
    srv_holder_free(&h);
    free(token);
    return rc;
}

const cli_cmd cmd_serve = {
    "serve", run, "an HTTP JSON tagging service (POST /v1/classify, GET /v1/model, /healthz, /readyz, /metrics)",
    "[-m MODEL] [--listen HOST:PORT] [options]", opts,
    "aitag serve -m news.aitag --listen 127.0.0.1:8080\n"
    "curl -s -H 'Content-Type: application/json' -d '{\"id\": 1, \"text\": \"Nvidia ships a new GPU\"}' \\\n"
    "    http://127.0.0.1:8080/v1/classify"};
