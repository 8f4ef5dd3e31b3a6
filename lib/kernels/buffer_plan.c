/* Planned activation buffers: see buffer_plan.h. */
#include "kernels/buffer_plan.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PLAN_ALIGN ((size_t)64)

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 1;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need) c *= 2;
    void *n = realloc(*arr, c * elem);
    if (!n) return 0;
    *arr = n;
    *cap = c;
    return 1;
}

static void *map_bytes(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Maps a buffer on its own and remembers it until it is released. */
static void *map_tracked(ig_plan *pl, size_t bytes)
{
    if (!grow((void **)&pl->maps, &pl->maps_cap, pl->nmaps + 1, sizeof *pl->maps)) return NULL;
    void *p = map_bytes(bytes);
    if (!p) return NULL;
    pl->maps[pl->nmaps].p = p;
    pl->maps[pl->nmaps].bytes = bytes;
    pl->nmaps++;
    return p;
}

static void drop_arena(ig_plan *pl)
{
    if (pl->arena) munmap(pl->arena, pl->arena_bytes);
    pl->arena = NULL;
    pl->arena_bytes = 0;
}

void ig_plan_begin(ig_plan *pl)
{
    pl->clock = 0;
    pl->next = 0;
    pl->broken = 0;
    if (pl->valid && !pl->arena && pl->nlive == 0) {
        pl->arena = map_bytes(pl->arena_need);
        if (pl->arena) pl->arena_bytes = pl->arena_need;
        else pl->valid = 0;  /* no room for the arena: record (and map) again */
    }
    if (pl->valid) {
        pl->mode = IG_PLAN_REPLAY;
    } else {
        pl->mode = IG_PLAN_RECORD;
        pl->n = 0;
    }
}

static int by_size_desc(const void *a, const void *b)
{
    const ig_plan_rec *x = *(ig_plan_rec *const *)a, *y = *(ig_plan_rec *const *)b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return (x->t0 > y->t0) - (x->t0 < y->t0);
}

static int by_offset(const void *a, const void *b)
{
    const ig_plan_rec *x = *(ig_plan_rec *const *)a, *y = *(ig_plan_rec *const *)b;
    return (x->off > y->off) - (x->off < y->off);
}

/* Offsets for the buffers released inside the region: largest first, each
 * at the lowest offset where it overlaps no placed buffer alive at the same
 * time. Returns the arena size, 0 on failure. */
static size_t place(ig_plan *pl)
{
    ig_plan_rec **order = malloc((pl->n + 1) * sizeof *order);
    ig_plan_rec **busy = malloc((pl->n + 1) * sizeof *busy);
    size_t m = 0, top = 0;
    if (!order || !busy) {
        free(order);
        free(busy);
        return 0;
    }
    for (size_t i = 0; i < pl->n; i++)
        if (pl->rec[i].t1 >= 0) order[m++] = &pl->rec[i];
    qsort(order, m, sizeof *order, by_size_desc);
    for (size_t i = 0; i < m; i++) {
        ig_plan_rec *r = order[i];
        size_t nb = 0;
        for (size_t j = 0; j < i; j++)
            if (order[j]->t0 < r->t1 && r->t0 < order[j]->t1) busy[nb++] = order[j];
        qsort(busy, nb, sizeof *busy, by_offset);
        size_t off = 0;
        for (size_t j = 0; j < nb; j++) {
            if (busy[j]->off >= off + r->bytes) break;
            size_t end = busy[j]->off + busy[j]->bytes;
            end = (end + PLAN_ALIGN - 1) & ~(PLAN_ALIGN - 1);
            if (end > off) off = end;
        }
        r->off = off;
        if (off + r->bytes > top) top = off + r->bytes;
    }
    free(order);
    free(busy);
    return top;
}

void ig_plan_end(ig_plan *pl)
{
    if (pl->mode == IG_PLAN_RECORD) {
        size_t need = pl->n ? place(pl) : 0;
        /* A new arena replaces the old one only when nothing lives in it. */
        if (need > 0 && pl->nlive == 0) {
            if (need > pl->arena_bytes) drop_arena(pl);
            pl->arena_need = need;
            pl->valid = 1;
        }
    } else if (pl->mode == IG_PLAN_REPLAY && (pl->broken || pl->next != pl->n)) {
        pl->valid = 0;
        if (pl->nlive == 0) drop_arena(pl);
    }
    pl->mode = IG_PLAN_OFF;
}

int ig_plan_serves(const ig_plan *pl, size_t bytes)
{
    return pl->mode != IG_PLAN_OFF && bytes >= IG_PLAN_MIN_BYTES;
}

/* Whether [off, off + bytes) of the arena is free of buffers in use. */
static int arena_free(const ig_plan *pl, size_t off, size_t bytes)
{
    for (size_t k = 0; k < pl->nlive; k++) {
        const ig_plan_rec *r = &pl->rec[pl->live[k]];
        if (r->off < off + bytes && off < r->off + r->bytes) return 0;
    }
    return 1;
}

/* Leaves the plan for the rest of the region; an arena nothing lives in
 * goes at once rather than sit beside the buffers mapped from now on. */
static void *leave_plan(ig_plan *pl, size_t bytes)
{
    pl->broken = 1;
    if (pl->nlive == 0) drop_arena(pl);
    return map_tracked(pl, bytes);
}

static void *replay(ig_plan *pl, size_t bytes)
{
    size_t i = pl->next++;
    if (pl->broken || i >= pl->n || pl->rec[i].bytes != bytes) return leave_plan(pl, bytes);
    ig_plan_rec *r = &pl->rec[i];
    if (r->t1 < 0) return map_tracked(pl, bytes); /* outlived the recorded region */
    if (!arena_free(pl, r->off, bytes) ||
        !grow((void **)&pl->live, &pl->live_cap, pl->nlive + 1, sizeof *pl->live))
        return leave_plan(pl, bytes);
    pl->live[pl->nlive++] = i;
    return pl->arena + r->off;
}

void *ig_plan_alloc(ig_plan *pl, size_t bytes)
{
    if (pl->mode == IG_PLAN_REPLAY) return replay(pl, bytes);
    void *p = map_tracked(pl, bytes);
    if (!p) return NULL;
    if (grow((void **)&pl->rec, &pl->cap, pl->n + 1, sizeof *pl->rec)) {
        ig_plan_rec *r = &pl->rec[pl->n++];
        memset(r, 0, sizeof *r);
        r->bytes = bytes;
        r->t0 = pl->clock++;
        r->t1 = -1;
        r->ptr = p;
    } else {
        pl->n = 0; /* cannot record this pass: plan nothing */
        pl->mode = IG_PLAN_OFF;
    }
    return p;
}

int ig_plan_release(ig_plan *pl, void *p)
{
    char *c = p;
    if (pl->arena && c >= pl->arena && c < pl->arena + pl->arena_bytes) {
        for (size_t k = 0; k < pl->nlive; k++)
            if (pl->arena + pl->rec[pl->live[k]].off == c) {
                pl->live[k] = pl->live[--pl->nlive];
                return 1;
            }
        return 1; /* not reachable: every arena pointer handed out is live */
    }
    for (size_t k = pl->nmaps; k-- > 0;) {
        if (pl->maps[k].p != p) continue;
        munmap(p, pl->maps[k].bytes);
        pl->maps[k] = pl->maps[--pl->nmaps];
        if (pl->mode == IG_PLAN_RECORD)
            for (size_t i = pl->n; i-- > 0;)
                if (pl->rec[i].ptr == p && pl->rec[i].t1 < 0) {
                    pl->rec[i].t1 = pl->clock++;
                    pl->rec[i].ptr = NULL;
                    break;
                }
        return 1;
    }
    return 0;
}

void ig_plan_free(ig_plan *pl)
{
    for (size_t k = 0; k < pl->nmaps; k++) munmap(pl->maps[k].p, pl->maps[k].bytes);
    drop_arena(pl);
    free(pl->maps);
    free(pl->rec);
    free(pl->live);
    memset(pl, 0, sizeof *pl);
}
