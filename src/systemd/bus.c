/* SPDX-License-Identifier: MIT */
/* systemd over sd-bus, asynchronous only: the connection (retried), Subscribe, the units' state kept from
 * PropertiesChanged and GetAll, jobs followed to JobRemoved, reload and unit properties. Every method call goes
 * through the call queue of bus-queue.c. */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <string.h>

#include "systemd/bus-internal.h"
#include "shared/log.h"
#include "shared/time-util.h"

typedef struct Pending {
        Bus *bus;
        BusDoneFunc cb;
        void *userdata;
        unsigned outstanding; /* bus_refresh_all: replies still to come */
        int error;
} Pending;

bool bus_unit_is_ours(const char *unit) {
        size_t n = strlen(unit), p = strlen(BUS_UNIT_PREFIX), s = strlen(BUS_UNIT_SUFFIX);
        return n > p + s && strneq(unit, BUS_UNIT_PREFIX, p) && streq(unit + n - s, BUS_UNIT_SUFFIX);
}

static void unit_state_done(UnitState *u) {
        free(u->name);
        free(u->load_state);
        free(u->active_state);
        free(u->sub_state);
        free(u->result);
        free(u->status_text);
}

static UnitState *bus_unit_get_or_add(Bus *b, const char *unit) {
        for (size_t i = 0; i < b->n_units; i++)
                if (streq(b->units[i].name, unit))
                        return &b->units[i];
        if (b->n_units == b->allocated_units) {
                size_t a = MAX(b->allocated_units * 2, 16u);
                UnitState *p = realloc(b->units, a * sizeof(UnitState));
                if (!p)
                        return NULL;
                b->units = p;
                b->allocated_units = a;
        }
        UnitState *u = &b->units[b->n_units];
        *u = (UnitState) { .name = strdup(unit) };
        if (!u->name)
                return NULL;
        b->n_units++;
        return u;
}

const UnitState *bus_unit(Bus *b, const char *unit) {
        for (size_t i = 0; i < b->n_units; i++)
                if (streq(b->units[i].name, unit))
                        return &b->units[i];
        return NULL;
}

size_t bus_n_units(Bus *b) {
        return b->n_units;
}

const UnitState *bus_unit_at(Bus *b, size_t i) {
        return i < b->n_units ? &b->units[i] : NULL;
}

bool bus_is_connected(Bus *b) {
        return b && b->connected;
}

static int set_string(char **p, const char *v) {
        char *n = strdup(v);
        if (!n)
                return -ENOMEM;
        free(*p);
        *p = n;
        return 0;
}

/* Reads an a{sv} of Unit/Service properties into u; unknown properties are skipped. */
static int unit_state_read_properties(UnitState *u, sd_bus_message *m) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name, *contents, *s;
                char type;

                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(m, &type, &contents);
                if (r < 0)
                        return r;
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r < 0)
                        return r;
                if (streq(contents, "s") &&
                    (streq(name, "ActiveState") || streq(name, "SubState") || streq(name, "Result") ||
                     streq(name, "LoadState") || streq(name, "StatusText"))) {
                        r = sd_bus_message_read(m, "s", &s);
                        if (r < 0)
                                return r;
                        r = set_string(streq(name, "ActiveState") ? &u->active_state :
                                       streq(name, "SubState")    ? &u->sub_state :
                                       streq(name, "Result")      ? &u->result :
                                       streq(name, "StatusText")  ? &u->status_text : &u->load_state, s);
                } else if (streq(contents, "u") && streq(name, "NRestarts"))
                        r = sd_bus_message_read(m, "u", &u->n_restarts);
                else if (streq(contents, "u") && streq(name, "MainPID"))
                        r = sd_bus_message_read(m, "u", &u->main_pid);
                else if (streq(contents, "i") && streq(name, "ExecMainStatus"))
                        r = sd_bus_message_read(m, "i", &u->exec_main_status);
                else if (streq(contents, "t") && streq(name, "ActiveEnterTimestamp"))
                        r = sd_bus_message_read(m, "t", &u->active_enter_usec);
                else
                        r = sd_bus_message_skip(m, contents);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static void bus_unit_changed(Bus *b, UnitState *u) {
        if (b->on_unit)
                b->on_unit(b, u, b->userdata);
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Bus *b = userdata;
        _cleanup_free_ char *unit = NULL;
        const char *iface;
        UnitState *u;
        int r;

        if (!bus_name_owner_sent(&b->systemd, m) ||
            sd_bus_path_decode(sd_bus_message_get_path(m), SD_UNIT_PATH_PREFIX, &unit) <= 0 ||
            !bus_unit_is_ours(unit))
                return 0;
        r = sd_bus_message_read(m, "s", &iface);
        if (r < 0)
                return 0;
        u = bus_unit_get_or_add(b, unit);
        if (!u)
                return 0;
        r = unit_state_read_properties(u, m);
        if (r < 0) {
                log_debug_errno(r, "Failed to parse PropertiesChanged of %s, ignoring: %m", unit);
                return 0;
        }
        /* Service properties (NRestarts, MainPID, ...) are invalidated rather than sent: read them again */
        if (streq(iface, "org.freedesktop.systemd1.Service") || streq(iface, "org.freedesktop.systemd1.Unit"))
                (void) bus_refresh_unit(b, unit);
        bus_unit_changed(b, u);
        return 0;
}

static void job_free(Job *j) {
        free(j->path);
        free(j->unit);
        free(j);
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Bus *b = userdata;
        const char *path, *unit, *result;
        bool ours = false;
        uint32_t id;

        if (!bus_name_owner_sent(&b->systemd, m) || sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        /* every job of ours with that path: systemd merges a second StopUnit of a stopping unit into the
         * first job, so two callers may wait for one job */
        for (Job **j = &b->jobs; *j;) {
                Job *job = *j;
                if (!job->path || !streq(job->path, path)) {
                        j = &job->next;
                        continue;
                }
                ours = true;
                *j = job->next;
                if (job->cb)
                        job->cb(b, job->unit, result, job->userdata);
                job_free(job);
        }
        if (bus_unit_is_ours(unit)) {
                /* a job someone else queued (systemctl stop|start|restart by hand, or systemd's own) that ran:
                 * flagged until the supervisor saw where it left the unit (bus_unit_foreign_job_seen) */
                UnitState *u = !ours && streq(result, "done") ? bus_unit_get_or_add(b, unit) : NULL;
                if (u)
                        u->foreign_job_done = true;
                (void) bus_refresh_unit(b, unit);
        }
        return 0;
}

/* ListUnitsByNames' answer after a reload: the LoadState of each of our units (masked or unmasked by an
 * operator, a unit file gone), which no PropertiesChanged reports. */
static int on_load_states(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Bus *b = userdata;
        const char *name, *load, *x;
        uint32_t job;
        int r;

        if (sd_bus_message_is_method_error(m, NULL))
                return 0;
        r = sd_bus_message_enter_container(m, 'a', "(ssssssouso)");
        if (r < 0)
                return 0;
        while ((r = sd_bus_message_read(m, "(ssssssouso)", &name, &x, &load, &x, &x, &x, &x, &job, &x,
                                        &x)) > 0) {
                UnitState *u = (UnitState *) bus_unit(b, name);

                if (!u || streq_ptr(u->load_state, load) || set_string(&u->load_state, load) < 0)
                        continue;
                bus_unit_changed(b, u);
        }
        return 0;
}

/* The end of a daemon-reload (ours or an operator's `systemctl mask`/`daemon-reload`): one call reads the
 * LoadState of every unit we know. */
static int on_reloading(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        Bus *b = userdata;
        int active, r;

        if (!bus_name_owner_sent(&b->systemd, m) || sd_bus_message_read(m, "b", &active) < 0 || active ||
            !b->connected || b->n_units == 0)
                return 0;
        r = sd_bus_message_new_method_call(b->bus, &call, SD_DEST, SD_PATH, SD_MANAGER, "ListUnitsByNames");
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "s");
        for (size_t i = 0; r >= 0 && i < b->n_units; i++)
                r = sd_bus_message_append(call, "s", b->units[i].name);
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        if (r >= 0)
                r = bus_send(b, call, on_load_states, b);
        if (r < 0)
                log_debug_errno(r, "Failed to ask systemd for the units' load state after a reload: %m");
        return 0;
}

void bus_unit_foreign_job_seen(Bus *b, const char *unit) {
        UnitState *u = (UnitState *) bus_unit(b, unit);
        if (u)
                u->foreign_job_done = false;
}

static int on_job_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Job *job = userdata;
        Bus *b = job->bus;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *path;

        /* systemd sends this reply before the job can run, so its JobRemoved always comes after: messages of
         * one connection are ordered, and we subscribed at connect, long before any job. */
        if (e || sd_bus_message_read(m, "o", &path) < 0 || !(job->path = strdup(path))) {
                for (Job **j = &b->jobs; *j; j = &(*j)->next)
                        if (*j == job) {
                                *j = job->next;
                                break;
                        }
                log_warning("%s: systemd refused the job: %s", job->unit, e ? e->message : "bad reply");
                if (job->cb)
                        job->cb(b, job->unit, e && e->name ? e->name : "refused", job->userdata);
                job_free(job);
        }
        return 0;
}

int bus_unit_job(Bus *b, const char *verb, const char *unit, BusJobFunc cb, void *userdata) {
        Job *job;
        int r;

        if (!b->connected)
                return -ENOTCONN;
        job = calloc(1, sizeof(Job));
        if (!job)
                return -ENOMEM;
        *job = (Job) { .unit = strdup(unit), .cb = cb, .userdata = userdata, .bus = b };
        if (!job->unit) {
                free(job);
                return -ENOMEM;
        }
        r = bus_call(b, SD_PATH, SD_MANAGER, verb, on_job_reply, job, "ss", unit, "replace");
        if (r < 0) {
                job_free(job);
                return r;
        }
        job->next = b->jobs;
        b->jobs = job;
        return 0;
}

static int on_done_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Pending *p = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (p->cb)
                p->cb(p->bus, e ? -sd_bus_error_get_errno(e) ?: -EIO : 0, p->userdata);
        free(p);
        return 0;
}

static int bus_call_done(Bus *b, const char *method, BusDoneFunc cb, void *userdata) {
        Pending *p;
        int r;

        if (!b->connected)
                return -ENOTCONN;
        p = calloc(1, sizeof(Pending));
        if (!p)
                return -ENOMEM;
        *p = (Pending) { .bus = b, .cb = cb, .userdata = userdata };
        r = bus_call(b, SD_PATH, SD_MANAGER, method, on_done_reply, p, "");
        if (r < 0)
                free(p);
        return r;
}

int bus_reload(Bus *b, BusDoneFunc cb, void *userdata) {
        return bus_call_done(b, "Reload", cb, userdata);
}

typedef struct StringCall {
        Bus *bus;
        BusStringFunc cb;
        void *userdata;
} StringCall;

static int on_string_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        StringCall *c = userdata;
        const char *v = NULL;

        if (sd_bus_message_is_method_error(m, NULL) || sd_bus_message_enter_container(m, 'v', "s") < 0 ||
            sd_bus_message_read(m, "s", &v) < 0)
                v = NULL;
        c->cb(c->bus, v, c->userdata);
        free(c);
        return 0;
}

int bus_get_system_state(Bus *b, BusStringFunc cb, void *userdata) {
        StringCall *c;
        int r;

        if (!b->connected)
                return -ENOTCONN;
        c = calloc(1, sizeof(StringCall));
        if (!c)
                return -ENOMEM;
        *c = (StringCall) { .bus = b, .cb = cb, .userdata = userdata };
        r = bus_call(b, SD_PATH, "org.freedesktop.DBus.Properties", "Get", on_string_reply, c, "ss", SD_MANAGER,
                     "SystemState");
        if (r < 0)
                free(c);
        return r;
}

typedef struct Refresh {
        Bus *bus;
        char *unit;
        Pending *all; /* the bus_refresh_all this belongs to, if any */
        /* bus_refresh_unit's (all == NULL): on the list b->refreshing until answered */
        struct Refresh *next, *prev;
        QueuedCall *call; /* valid until answered; its slot is set once sent */
        bool again;       /* asked again after it was sent: one more GetAll when this one is answered */
} Refresh;

static void refresh_unlink(Bus *b, Refresh *rf) {
        if (rf->prev)
                rf->prev->next = rf->next;
        else if (b->refreshing == rf)
                b->refreshing = rf->next;
        if (rf->next)
                rf->next->prev = rf->prev;
        rf->next = rf->prev = NULL;
}

static void refresh_finish_all(Pending *all, int error) {
        if (!all)
                return;
        if (error < 0 && all->error == 0)
                all->error = error;
        if (--all->outstanding > 0)
                return;
        if (all->cb)
                all->cb(all->bus, all->error, all->userdata);
        free(all);
}

static int on_refresh_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Refresh *rf = userdata;
        Bus *b = rf->bus;
        UnitState *u;
        bool again = rf->again;
        int r = 0;

        if (!rf->all)
                refresh_unlink(b, rf);

        if (!sd_bus_message_is_method_error(m, NULL)) {
                u = bus_unit_get_or_add(b, rf->unit);
                if (u) {
                        r = unit_state_read_properties(u, m);
                        if (r >= 0)
                                bus_unit_changed(b, u);
                }
        }
        refresh_finish_all(rf->all, r);
        /* something changed after this call went out: its answer may be older than that */
        if (again && b->connected)
                (void) bus_refresh_unit(b, rf->unit);
        free(rf->unit);
        free(rf);
        return 0;
}

static int bus_refresh_unit_internal(Bus *b, const char *unit, Pending *all) {
        _cleanup_free_ char *path = NULL;
        Refresh *rf;
        int r;

        if (!b->connected)
                return -ENOTCONN;
        if (!all)
                for (Refresh *p = b->refreshing; p; p = p->next)
                        if (streq(p->unit, unit)) {
                                /* one still waiting in our queue goes out after this and answers for both */
                                if (p->call && p->call->slot)
                                        p->again = true;
                                return 0;
                        }
        r = sd_bus_path_encode(SD_UNIT_PATH_PREFIX, unit, &path);
        if (r < 0)
                return r;
        rf = calloc(1, sizeof(Refresh));
        if (!rf)
                return -ENOMEM;
        *rf = (Refresh) { .bus = b, .unit = strdup(unit), .all = all };
        if (!rf->unit) {
                free(rf);
                return -ENOMEM;
        }
        if (!all) {
                rf->next = b->refreshing;
                if (b->refreshing)
                        b->refreshing->prev = rf;
                b->refreshing = rf;
        }
        /* GetAll with an empty interface: Unit and Service properties in one reply. A send that fails in
         * bus_pump answers (and frees rf) before this returns: rf is not touched after the call. */
        r = bus_call_full(b, &rf->call, path, "org.freedesktop.DBus.Properties", "GetAll", on_refresh_reply, rf,
                          "s", "");
        if (r < 0) {
                if (!all)
                        refresh_unlink(b, rf);
                free(rf->unit);
                free(rf);
                return r;
        }
        if (all)
                all->outstanding++;
        return 0;
}

int bus_refresh_unit(Bus *b, const char *unit) {
        return bus_refresh_unit_internal(b, unit, NULL);
}

static int on_list_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Pending *all = userdata;
        Bus *b = all->bus;
        const char *name;
        int r;

        all->outstanding = 1; /* ourselves, until every refresh is sent */
        if (sd_bus_message_is_method_error(m, NULL)) {
                refresh_finish_all(all, -EIO);
                return 0;
        }
        r = sd_bus_message_enter_container(m, 'a', "(ssssssouso)");
        while (r >= 0 && (r = sd_bus_message_read(m, "(ssssssouso)", &name, NULL, NULL, NULL, NULL, NULL, NULL,
                                                  NULL, NULL, NULL)) > 0)
                if (bus_unit_is_ours(name))
                        (void) bus_refresh_unit_internal(b, name, all);
        refresh_finish_all(all, r < 0 ? r : 0);
        return 0;
}

int bus_refresh_all(Bus *b, BusDoneFunc cb, void *userdata) {
        Pending *all;
        int r;

        if (!b->connected)
                return -ENOTCONN;
        all = calloc(1, sizeof(Pending));
        if (!all)
                return -ENOMEM;
        *all = (Pending) { .bus = b, .cb = cb, .userdata = userdata };
        r = bus_call(b, SD_PATH, SD_MANAGER, "ListUnitsByPatterns", on_list_reply, all, "asas", 0, 1,
                     BUS_UNIT_PREFIX "*" BUS_UNIT_SUFFIX);
        if (r < 0)
                free(all);
        return r;
}

int bus_set_unit_properties(Bus *b, const char *unit, bool runtime, BusAppendFunc append, void *append_userdata,
                            BusDoneFunc cb, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        Pending *p;
        int r;

        if (!b->connected)
                return -ENOTCONN;
        r = sd_bus_message_new_method_call(b->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "SetUnitProperties");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "sb", unit, runtime);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = append(m, append_userdata);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        p = calloc(1, sizeof(Pending));
        if (!p)
                return -ENOMEM;
        *p = (Pending) { .bus = b, .cb = cb, .userdata = userdata };
        r = bus_send(b, m, on_done_reply, p);
        if (r < 0)
                free(p);
        return r;
}

static void bus_disconnect(Bus *b);

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Bus *b = userdata;
        int r = bus_start(b);
        if (r < 0) {
                log_debug_errno(r, "System bus not reachable yet: %m");
                (void) sd_event_source_set_time_relative(b->retry, BUS_RETRY_USEC);
                (void) sd_event_source_set_enabled(b->retry, SD_EVENT_ONESHOT);
        }
        return 0;
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Bus *b = userdata;

        log_event(LOG_WARNING, 0, "bus-lost", NULL, NULL, "Lost the system bus; workloads are untouched, reconnecting.");
        bus_disconnect(b);
        (void) sd_event_source_set_time_relative(b->retry, BUS_RETRY_USEC);
        (void) sd_event_source_set_enabled(b->retry, SD_EVENT_ONESHOT);
        return 0;
}

static int on_subscribed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Bus *b = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e) {
                log_warning("systemd refused Subscribe: %s; retrying.", e->message);
                bus_disconnect(b);
                (void) sd_event_source_set_time_relative(b->retry, BUS_RETRY_USEC);
                (void) sd_event_source_set_enabled(b->retry, SD_EVENT_ONESHOT);
                return 0;
        }
        b->connected = true;
        log_debug("Connected to systemd.");
        if (b->on_state)
                b->on_state(b, true, b->userdata);
        return 0;
}

static void bus_disconnect(Bus *b) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = TAKE_PTR(b->bus); /* handlers below can send nothing */
        bool was = b->connected;

        b->connected = false;
        /* Replies to calls in flight will never come: each handler hears "disconnected" now. Each call's slot
         * and message hold references on the connection; without this they kept it (and themselves) alive
         * for good. */
        while (b->sent) {
                QueuedCall *c = b->sent;
                bus_queue_sent_unlink(b, c);
                bus_queue_call_fail(c, "disconnected");
        }
        while (b->jobs) {
                Job *j = b->jobs;
                b->jobs = j->next;
                if (j->cb)
                        j->cb(b, j->unit, BUS_JOB_LOST, j->userdata);
                job_free(j);
        }
        while (b->queue_head) {
                QueuedCall *c = b->queue_head;
                b->queue_head = c->next;
                bus_queue_call_fail(c, "disconnected");
        }
        b->queue_tail = NULL;
        b->in_flight = b->queued = 0;
        bus_name_owner_done(&b->systemd);
        bus = sd_bus_flush_close_unref(bus);
        if (was && b->on_state)
                b->on_state(b, false, b->userdata);
}

int bus_start(Bus *b) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (b->bus)
                return 0;
        r = sd_bus_open_system_with_description(&bus, "ballastd");
        if (r < 0)
                return r;
        r = sd_bus_attach_event(bus, b->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        /* The matches go in before Subscribe and before any job, so that no JobRemoved or PropertiesChanged of
         * ours can pass unseen; systemd's owner before them, so that it is known before any signal of a job of
         * ours (signals count only from it: any local process may send one). */
        r = bus_name_owner_watch(&b->systemd, bus, SD_DEST, NULL, NULL);
        if (r >= 0)
                r = sd_bus_match_signal_async(bus, NULL, SD_DEST, SD_PATH, SD_MANAGER, "JobRemoved", on_job_removed,
                                              NULL, b);
        if (r >= 0)
                r = sd_bus_match_signal_async(bus, NULL, SD_DEST, SD_PATH, SD_MANAGER, "Reloading", on_reloading,
                                              NULL, b);
        if (r >= 0)
                r = sd_bus_add_match_async(bus, NULL,
                                           "type='signal',sender='" SD_DEST "',interface='org.freedesktop.DBus.Properties',"
                                           "member='PropertiesChanged',path_namespace='" SD_UNIT_PATH_PREFIX "'",
                                           on_properties_changed, NULL, b);
        if (r >= 0)
                r = sd_bus_match_signal_async(bus, NULL, "org.freedesktop.DBus.Local", NULL,
                                              "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, NULL, b);
        if (r >= 0)
                r = sd_bus_call_method_async(bus, NULL, SD_DEST, SD_PATH, SD_MANAGER, "Subscribe", on_subscribed, b, "");
        if (r < 0) {
                bus_name_owner_done(&b->systemd);
                return r;
        }
        b->bus = TAKE_PTR(bus);
        return 0;
}

int bus_new(Bus **ret, sd_event *event, BusStateFunc on_state, BusUnitFunc on_unit, void *userdata) {
        _cleanup_(bus_freep) Bus *b = calloc(1, sizeof(Bus));
        int r;

        if (!b)
                return -ENOMEM;
        b->event = sd_event_ref(event);
        b->on_state = on_state;
        b->on_unit = on_unit;
        b->userdata = userdata;
        r = sd_event_add_time_relative(event, &b->retry, CLOCK_MONOTONIC, BUS_RETRY_USEC, 0, on_retry, b);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(b->retry, SD_EVENT_OFF);
        (void) sd_event_source_set_description(b->retry, "bus-retry");
        *ret = TAKE_PTR(b);
        return 0;
}

Bus *bus_free(Bus *b) {
        if (!b)
                return NULL;
        b->on_state = NULL;
        bus_disconnect(b);
        for (size_t i = 0; i < b->n_units; i++)
                unit_state_done(&b->units[i]);
        free(b->units);
        sd_event_source_disable_unref(b->retry);
        sd_event_unref(b->event);
        free(b);
        return NULL;
}

int bus_start_or_retry(Bus *b) {
        int r = bus_start(b);
        if (r < 0) {
                log_full_errno(LOG_NOTICE, r, "System bus not reachable, retrying: %m");
                (void) sd_event_source_set_enabled(b->retry, SD_EVENT_ONESHOT);
        }
        return 0;
}
