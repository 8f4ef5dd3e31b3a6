/* Planned activation buffers for a pass that repeats (one slice of a
 * translation after another).
 *
 * The engine's pool keeps every freed buffer for reuse by a request of the
 * same size. Over one generator pass that holds far more than the pass ever
 * uses at once (paper generator at 256^2: 57 MB live at the peak, 138 MB in
 * the pool, because buffers of one level's sizes sit idle while another
 * level runs). Inside a planned region instead:
 *  - the first pass (recording) maps each large buffer on its own and unmaps
 *    it when released, so it holds only what is live, and records the
 *    sequence of sizes and the lifetime of each buffer;
 *  - at the end of the region every buffer that was released inside it gets
 *    an offset in one arena, chosen so that buffers alive at the same time
 *    never overlap (greedy, largest first); the arena is about the live peak;
 *  - later passes (replaying) take the i-th large request from its planned
 *    offset. Before handing it out the planner checks that the size matches
 *    the recording and that no buffer still in use overlaps it; on any
 *    mismatch (another image size, an error path) the rest of the region is
 *    served by mapping buffers one by one and the next region records anew.
 * Small requests keep using the pool. */
#ifndef IG_KERNELS_BUFFER_PLAN_H
#define IG_KERNELS_BUFFER_PLAN_H

#include <stddef.h>

/* Requests below this many bytes stay in the pool. */
#define IG_PLAN_MIN_BYTES ((size_t)256 * 1024)

typedef struct ig_plan_rec {
    size_t bytes, off;
    long t0, t1;  /* allocation and release times; t1 < 0: not released in the region */
    void *ptr;    /* while recording: the mapping */
} ig_plan_rec;

typedef struct ig_plan_map {
    void *p;
    size_t bytes;
} ig_plan_map;

typedef enum ig_plan_mode { IG_PLAN_OFF, IG_PLAN_RECORD, IG_PLAN_REPLAY } ig_plan_mode;

typedef struct ig_plan {
    ig_plan_mode mode;
    long clock;        /* allocation and release events so far in the region */
    size_t next;       /* index of the next large request while replaying */
    int valid;         /* rec[] holds a finished plan with offsets */
    int broken;        /* this replay left the plan */
    ig_plan_rec *rec;
    size_t n, cap;
    char *arena;
    size_t arena_bytes, arena_need;
    size_t *live;      /* indices into rec of arena slots in use */
    size_t nlive, live_cap;
    ig_plan_map *maps; /* buffers mapped one by one, still in use */
    size_t nmaps, maps_cap;
} ig_plan;

void ig_plan_begin(ig_plan *pl);
void ig_plan_end(ig_plan *pl);
/* A buffer of bytes (>= IG_PLAN_MIN_BYTES, inside a region), or NULL when
 * out of memory. */
void *ig_plan_alloc(ig_plan *pl, size_t bytes);
/* Takes p back if the planner handed it out; 0 if it did not. */
int ig_plan_release(ig_plan *pl, void *p);
/* Whether the planner serves a request of this size now. */
int ig_plan_serves(const ig_plan *pl, size_t bytes);
/* Unmaps everything (the engine is going away). */
void ig_plan_free(ig_plan *pl);

#endif
