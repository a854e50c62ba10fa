#include "hub/tcb.h"

#include <asm/prctl.h>
#include <dlfcn.h>
#include <link.h>
#include <sys/mman.h>
#include <pthread.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "hub/spin_lock.h"

// glibc 2.35+: where the kernel's rseq area sits, relative to the thread
// pointer, and how much of it glibc registered (0: none).
extern "C" const ptrdiff_t __rseq_offset __attribute__((weak));
extern "C" const unsigned int __rseq_size __attribute__((weak));

// glibc's per-thread resolver state (<resolv.h> would also define p_type,
// which <link.h>'s program headers need).
extern "C" struct __res_state* __res_state();

// The loader's TLS lookup (<tls.h>'s tls_index: module id, offset).
extern "C" void* __tls_get_addr(void* index);

namespace green {

bool g_private_tls = false;

namespace {

// What a new block's struct pthread holds (glibc 2.36, x86_64). The block
// starts zeroed; then:
//  copied from the creating thread: tcbhead_t's multiple_threads, sysinfo,
//    the stack-protector canary (%fs:0x28), the pointer guard (%fs:0x30,
//    which setjmp and atexit mangle with: a longjmp across green threads
//    needs the same one) and feature_1 (CET);
//  set as glibc's thread creation sets them: the self pointers (%fs:0,
//    %fs:0x10), the thread list node and the robust-mutex list as empty
//    lists (fork's child and robust mutexes walk them), specific[0] pointing
//    at the first key block, and the rseq cpu_id as "registration failed",
//    so sched_getcpu asks the kernel instead of reading another thread's
//    registration; tid: the green thread's own id;
//  left zero: cancellation state, scheduling, join state, the stack fields
//    (the hooks answer pthread_getattr_np), the resolver state and the
//    strerror/strsignal buffers, which glibc fills on demand.
// The DTV and every module's static TLS are glibc's _dl_allocate_tls's.
constexpr size_t kTcbSelf = 0x0;
constexpr size_t kTcbSelf2 = 0x10;
constexpr size_t kHeaderCopyBegin = 0x18;   // multiple_threads
constexpr size_t kHeaderCopyEnd = 0x50;     // past feature_1
constexpr size_t kGscopeFlag = 0x1c;        // the loader's per-thread flag: never inherited
constexpr size_t kKeyBlockBytes = 32 * 16;  // specific_1stblock, just below specific[]
constexpr int kRseqCpuIdRegistrationFailed = -2;
constexpr size_t kResStateBytes = 568;  // sizeof(struct __res_state)

struct Glibc {
  void* (*allocate_tls)(void*) = nullptr;
  void (*deallocate_tls)(void*, bool) = nullptr;
  void (*call_tls_dtors)() = nullptr;
  void (*ctype_init)() = nullptr;
  ptrdiff_t resp = 0;        // __resp, from the thread pointer
  ptrdiff_t res = 0;         // struct pthread's res (0: not known: __resp stays shared)
  ptrdiff_t tcache = 0;      // malloc's tcache pointer, from the thread pointer
  ptrdiff_t arena = 0;       // malloc's thread_arena, from the thread pointer (0: not found)
  size_t strsignal_buf = 0;  // struct pthread's tls_state.strsignal_buf (0: not found)
  size_t strerror_buf = 0;   // and its strerror_l_buf
  size_t static_size = 0;    // static TLS plus struct pthread
  size_t align = 0;
  size_t tcb_size = 0;  // sizeof(struct pthread)
  size_t reserve = 0;
  size_t tid = 0, list = 0, specific = 0;  // offsets in struct pthread
  long robust_futex_offset = 0;
  bool fsgsbase = false;
};
Glibc g;

std::atomic<pid_t> g_next_tid{0};

// libthread_db's descriptors: {bits, count, offset}.
const uint32_t* db_field(const char* name) {
  return static_cast<const uint32_t*>(dlsym(RTLD_DEFAULT, name));
}

template <class T>
T& at(void* tp, size_t offset) {
  return *reinterpret_cast<T*>(static_cast<char*>(tp) + offset);
}

size_t robust_head(size_t tid) {
  return tid + 16;  // after tid, pid and robust_prev
}

pid_t read_pid_max() {
  long max = 4194304;  // the kernel's largest, if /proc cannot say
  if (FILE* f = fopen("/proc/sys/kernel/pid_max", "re")) {
    if (fscanf(f, "%ld", &max) != 1) max = 4194304;
    fclose(f);
  }
  return pid_t(max);
}

bool resolve(const char** why) {
  using GetInfo = void (*)(size_t*, size_t*);
  auto info = reinterpret_cast<GetInfo>(dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info"));
  g.allocate_tls = reinterpret_cast<void* (*)(void*)>(dlsym(RTLD_DEFAULT, "_dl_allocate_tls"));
  g.deallocate_tls =
      reinterpret_cast<void (*)(void*, bool)>(dlsym(RTLD_DEFAULT, "_dl_deallocate_tls"));
  g.call_tls_dtors = reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "__call_tls_dtors"));
  g.ctype_init = reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "__ctype_init"));
  // dlsym of a TLS symbol answers its address for the calling thread.
  if (void* resp = dlsym(RTLD_DEFAULT, "__resp"))
    g.resp = static_cast<char*>(resp) - static_cast<char*>(thread_pointer());
  const uint32_t* size = db_field("_thread_db_sizeof_pthread");
  const uint32_t* tid = db_field("_thread_db_pthread_tid");
  const uint32_t* list = db_field("_thread_db_pthread_list");
  const uint32_t* specific = db_field("_thread_db_pthread_specific");
  if (!info || !g.ctype_init || !g.allocate_tls || !g.deallocate_tls || !size || !tid || !list ||
      !specific) {
    *why = "this glibc does not export its TLS allocator (_dl_allocate_tls) or thread layout";
    return false;
  }
  info(&g.static_size, &g.align);
  g.tcb_size = size[0];
  g.tid = tid[2];
  g.list = list[2];
  g.specific = specific[2];
  return true;
}

// The calling thread's own block must look as this file expects.
bool layout_matches(const char** why) {
  void* tp = thread_pointer();
  size_t head = robust_head(g.tid);
  bool ok = at<void*>(tp, kTcbSelf) == tp && at<void*>(tp, kTcbSelf2) == tp &&
            at<pid_t>(tp, g.tid) == kernel_tid() &&
            at<char*>(tp, g.specific) == static_cast<char*>(tp) + g.specific - kKeyBlockBytes &&
            at<char*>(tp, g.tid + 8) == static_cast<char*>(tp) + head && g.align != 0 &&
            (g.align & (g.align - 1)) == 0 && g.static_size > g.tcb_size &&
            (!&__rseq_size || __rseq_size == 0 || size_t(__rseq_offset) + 8 <= g.tcb_size);
  if (!ok) *why = "glibc's struct pthread is not laid out as libgreen expects";
  g.robust_futex_offset = at<long>(tp, head + 8);
  return ok;
}

}  // namespace

void* thread_pointer() {
  void* tp;
  asm volatile("mov %%fs:0, %0" : "=r"(tp));
  return tp;
}

void set_thread_pointer(void* tp) {
  if (g.fsgsbase)
    asm volatile("wrfsbase %0" ::"r"(tp) : "memory");
  else
    syscall(SYS_arch_prctl, ARCH_SET_FS, tp);
}

namespace {

// malloc's per-thread state (glibc 2.36) lives in two hidden TLS variables of
// libc: `tcache`, the thread's cache of freed chunks (a
// tcache_perthread_struct: 64 uint16_t counts, then 64 entry pointers,
// allocated by the thread's first malloc), and `thread_arena`, the arena the
// thread allocates from. In a fresh block both are null, so a green thread's
// first malloc would pick an arena of its own (glibc makes new ones up to
// 8 per core) and allocate a cache there: ~0.8 KiB per green thread, and
// chunks parked per thread. Instead every block starts with its creator's
// two values, so all the green threads of one OS thread share the cache and
// the arena of the thread that made them (in the end the OS thread's own):
//  - the arena has its own lock, and glibc itself shares arenas between
//    threads once it has made 8 per core;
//  - the cache has no lock, which is safe because those green threads never
//    run at the same time: they take turns on one OS thread, and a switch
//    never happens inside malloc or free (libc makes no hooked call there,
//    and preemption only switches with the PC in the program's own code,
//    hub/preempt.h). A signal handler that mallocs while its thread is in
//    malloc breaks natively too.
// What stays per thread is what the program sees: its TLS variables.
// Neither is found by name (not exported): each is the word of libc's TLS
// block that a first malloc in a fresh probe block sets.
constexpr int kTcacheBins = 64;
constexpr uintptr_t kHeapMax = uintptr_t(64) << 20;  // glibc's HEAP_MAX_SIZE (64-bit)
struct TcacheEntry {
  TcacheEntry* next;  // mangled: (address of the field >> 12) ^ pointer
  uintptr_t key;
};
struct Tcache {
  uint16_t counts[kTcacheBins];
  TcacheEntry* entries[kTcacheBins];
};

struct TlsBlock {
  ptrdiff_t offset = 0;  // from the thread pointer
  size_t size = 0;
};

// libgreen's own record of a block, just below glibc's static TLS area (in
// the page the stack's first frames use anyway): the list of live blocks
// (a module dlopen'ed later is initialised in each, as glibc's
// _dl_init_static_tls does for the threads it knows) and the cache the
// block was given.
struct BlockRecord {
  BlockRecord* prev;
  BlockRecord* next;
  char* tp;
  void* shared_tcache;
};
BlockRecord g_blocks{&g_blocks, &g_blocks, nullptr, nullptr};
SpinLock g_blocks_lock;

BlockRecord* record_of(char* tp) {
  uintptr_t tls_bottom = uintptr_t(tp) - (g.static_size - g.tcb_size);
  return reinterpret_cast<BlockRecord*>((tls_bottom - sizeof(BlockRecord)) & ~uintptr_t(63));
}

int find_libc_block(dl_phdr_info* info, size_t, void* out) {
  if (!info->dlpi_name || !strstr(info->dlpi_name, "/libc.so.6") || !info->dlpi_tls_data) return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    if (info->dlpi_phdr[i].p_type != PT_TLS) continue;
    auto* block = static_cast<TlsBlock*>(out);
    block->offset = static_cast<char*>(info->dlpi_tls_data) - static_cast<char*>(thread_pointer());
    block->size = info->dlpi_phdr[i].p_memsz;
    return 1;
  }
  return 0;
}

bool holds(const Tcache* cache, const void* chunk) {
  for (int i = 0; i < kTcacheBins; i++)
    if (cache->counts[i] == 1 && cache->entries[i] == chunk) return true;
  return false;
}

// A non-main arena sits in its heap just after the heap_info, whose first
// word points back at it; the cache was allocated in the same heap.
bool is_arena_of(uintptr_t arena, uintptr_t cache) {
  uintptr_t heap = arena & ~(kHeapMax - 1);
  return heap == (cache & ~(kHeapMax - 1)) && *reinterpret_cast<uintptr_t*>(heap) == arena;
}

// In a probe block, on this thread for a moment: the words that malloc's
// first use sets to its cache and to its arena.
void probe_malloc(char* probe, const TlsBlock& libc) {
  std::vector<uintptr_t> before(libc.size / sizeof(uintptr_t));
  memcpy(before.data(), probe + libc.offset, before.size() * sizeof(uintptr_t));
  void* own = thread_pointer();
  set_thread_pointer(probe);
  void* chunk = malloc(40);
  free(chunk);
  set_thread_pointer(own);
  std::vector<size_t> changed;
  for (size_t i = 0; i < before.size(); i++) {
    uintptr_t now;
    memcpy(&now, probe + libc.offset + i * sizeof now, sizeof now);
    if (now != before[i] && now >= 65536 && now % 16 == 0) changed.push_back(i);
  }
  auto word = [&](size_t i) { return *reinterpret_cast<uintptr_t*>(probe + libc.offset + i * 8); };
  for (size_t i : changed)
    if (holds(reinterpret_cast<const Tcache*>(word(i)), chunk))
      g.tcache = libc.offset + ptrdiff_t(i * 8);
  for (size_t i : changed)
    if (g.tcache && libc.offset + ptrdiff_t(i * 8) != g.tcache &&
        is_arena_of(word(i), *reinterpret_cast<uintptr_t*>(probe + g.tcache)))
      g.arena = libc.offset + ptrdiff_t(i * 8);
}

// glibc 2.36 keeps the buffers of strsignal and strerror for unknown numbers
// in struct pthread (tls_state), allocated by each call and freed by its
// thread exit (__libc_thread_freeres). Found as the words of the calling
// thread's struct pthread that such calls set to the strings they return.
size_t word_holding(char* tp, const void* value) {
  for (size_t off = 0; off + sizeof(void*) <= g.tcb_size; off += sizeof(void*))
    if (at<const void*>(tp, off) == value) return off;
  return 0;
}

// On the calling thread itself, not in a probe block: any malloc can serve
// them (another allocator's thread state must never live in a probe block).
void probe_string_buffers() {
  constexpr int kUnknownSignal = 1000, kUnknownErrno = 100000;
  char* tp = static_cast<char*>(thread_pointer());
  g.strsignal_buf = word_holding(tp, strsignal(kUnknownSignal));
  g.strerror_buf = word_holding(tp, strerror(kUnknownErrno));
}

// What glibc's thread exit does with the two buffers (__glibc_tls_internal_free).
void free_string_buffers(char* tp) {
  for (size_t off : {g.strsignal_buf, g.strerror_buf}) {
    if (!off) continue;
    free(at<char*>(tp, off));
    at<char*>(tp, off) = nullptr;
  }
}

// What glibc's tcache_thread_shutdown does, for a block that made a cache of
// its own (it was given none): the chunks back to their arena, then the
// cache itself. glibc's free() makes a new cache when a thread has none
// (and only glibc's own exit can tell it not to), so while the chunks go
// back the thread's cache is one that is full in every size: free() gives
// each chunk to its arena. The thread must not malloc again.
Tcache g_full_cache;

void free_tcache(char* tp) {
  if (!g.tcache) return;  // malloc is not glibc's
  auto*& slot = *reinterpret_cast<Tcache**>(tp + g.tcache);
  Tcache* cache = slot;
  if (!cache || cache == &g_full_cache) return;
  slot = &g_full_cache;
  for (TcacheEntry*& head : cache->entries) {
    while (TcacheEntry* e = head) {
      head = reinterpret_cast<TcacheEntry*>((uintptr_t(&e->next) >> 12) ^ uintptr_t(e->next));
      free(e);
    }
  }
  free(cache);
}

// A new block starts with its creator's cache and arena (see above). The
// creator gets its own first if it has none yet, so that no green thread
// ever makes one.
void share_malloc_state(char* tp, BlockRecord* rec) {
  rec->shared_tcache = nullptr;
  if (!g.tcache || !g.arena) return;
  char* creator = static_cast<char*>(thread_pointer());
  if (!*reinterpret_cast<void**>(creator + g.tcache)) free(malloc(1));
  void* cache = *reinterpret_cast<void**>(creator + g.tcache);
  if (cache == &g_full_cache) return;  // an exiting thread's: the new one makes its own
  *reinterpret_cast<void**>(tp + g.tcache) = cache;
  *reinterpret_cast<void**>(tp + g.arena) = *reinterpret_cast<void**>(creator + g.arena);
  rec->shared_tcache = cache;
}

// Is malloc glibc's? A program linked with another allocator (jemalloc,
// tcmalloc) never fills glibc's cache: nothing to find, nothing to free.
bool malloc_is_glibcs() {
  Dl_info info;
  void* fn = dlsym(RTLD_DEFAULT, "malloc");
  return fn && dladdr(fn, &info) && info.dli_fname && strstr(info.dli_fname, "/libc.so.6");
}

bool probe(const char** why) {
  for (uint16_t& count : g_full_cache.counts) count = UINT16_MAX;
  bool glibc_malloc = malloc_is_glibcs();
  TlsBlock libc;
  dl_iterate_phdr(find_libc_block, &libc);
  size_t bytes = g.reserve + 4096;
  void* probe_stack =
      mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* probe = probe_stack == MAP_FAILED
                    ? nullptr
                    : static_cast<char*>(tcb_build(static_cast<char*>(probe_stack) + bytes, 0));
  if (probe && libc.size && glibc_malloc) probe_malloc(probe, libc);
  probe_string_buffers();
  free_string_buffers(static_cast<char*>(thread_pointer()));
  if (probe) {
    void* own = thread_pointer();
    set_thread_pointer(probe);
    if (g.tcache) free_tcache(probe);
    set_thread_pointer(own);
    tcb_release(probe);
  }
  if (probe_stack != MAP_FAILED) munmap(probe_stack, bytes);
  if (glibc_malloc && !g.tcache)
    *why = "malloc's per-thread cache could not be found in glibc's TLS block";
  return !glibc_malloc || g.tcache != 0;
}

}  // namespace

bool tcb_init(const char** why) {
  if (!resolve(why) || !layout_matches(why)) return false;
  constexpr unsigned long kHwcap2Fsgsbase = 1ul << 1;  // the kernel lets user space write FS
  g.fsgsbase = (getauxval(AT_HWCAP2) & kHwcap2Fsgsbase) != 0;
  // The thread pointer's alignment may cost up to align - 1 bytes, the
  // record's up to 63 more.
  g.reserve = (g.static_size + g.align + sizeof(BlockRecord) + 64 + 63) & ~size_t(63);
  g_next_tid.store(read_pid_max() + 1);
  return probe(why);
}

size_t tcb_reserve() {
  return g_private_tls ? g.reserve : 0;
}

void* tcb_build(char* top, pid_t tid) {
  char* tp = reinterpret_cast<char*>((uintptr_t(top) - g.tcb_size) & ~(uintptr_t(g.align) - 1));
  memset(tp, 0, g.tcb_size);  // a recycled stack holds the last thread's
  memcpy(tp + kHeaderCopyBegin, static_cast<char*>(thread_pointer()) + kHeaderCopyBegin,
         kHeaderCopyEnd - kHeaderCopyBegin);
  at<int>(tp, kGscopeFlag) = 0;
  at<void*>(tp, kTcbSelf) = tp;
  at<void*>(tp, kTcbSelf2) = tp;
  at<char*>(tp, g.list) = tp + g.list;
  at<char*>(tp, g.list + 8) = tp + g.list;
  size_t head = robust_head(g.tid);
  at<char*>(tp, g.tid + 8) = tp + head;
  at<char*>(tp, head) = tp + head;
  at<long>(tp, head + 8) = g.robust_futex_offset;
  at<char*>(tp, g.specific) = tp + g.specific - kKeyBlockBytes;
  if (&__rseq_size && __rseq_size >= 8)
    at<int>(tp, size_t(__rseq_offset) + 4) = kRseqCpuIdRegistrationFailed;
  tcb_set_tid(tp, tid);
  if (!g.allocate_tls(tp)) {
    errno = EAGAIN;
    return nullptr;
  }
  BlockRecord* rec = record_of(tp);
  rec->tp = tp;
  share_malloc_state(tp, rec);
  g_blocks_lock.lock();
  rec->next = g_blocks.next;
  rec->prev = &g_blocks;
  g_blocks.next->prev = rec;
  g_blocks.next = rec;
  g_blocks_lock.unlock();
  return tp;
}

void tcb_release(void* tp) {
  BlockRecord* rec = record_of(static_cast<char*>(tp));
  g_blocks_lock.lock();
  rec->prev->next = rec->next;
  rec->next->prev = rec->prev;
  g_blocks_lock.unlock();
  g.deallocate_tls(tp, false);
}

void tcb_note_native_thread() {
  // Where glibc keeps a thread's own resolver state in struct pthread: a
  // native thread's __resp points at it.
  ptrdiff_t res = static_cast<char*>(reinterpret_cast<void*>(__res_state())) -
                  static_cast<char*>(thread_pointer());
  g.res = res > 0 && size_t(res) + kResStateBytes <= g.tcb_size ? res : 0;
}

void tcb_thread_start() {
  g.ctype_init();
  if (g.resp && g.res > 0) {
    char* tp = static_cast<char*>(thread_pointer());
    *reinterpret_cast<void**>(tp + g.resp) = tp + g.res;
  }
}

void tcb_thread_exit() {
  if (g.call_tls_dtors) g.call_tls_dtors();
}

void tcb_thread_end() {
  char* tp = static_cast<char*>(thread_pointer());
  free_string_buffers(tp);
  BlockRecord* rec = record_of(tp);
  if (g.tcache && *reinterpret_cast<void**>(tp + g.tcache) == rec->shared_tcache) return;
  free_tcache(tp);  // one it made itself
}

namespace {

// A module with TLS, as dl_iterate_phdr names it.
struct TlsModule {
  uintptr_t base;
  size_t modid;
  bool operator==(const TlsModule& o) const { return base == o.base && modid == o.modid; }
};

const ElfW(Phdr) * tls_phdr(const dl_phdr_info* info) {
  for (int i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_TLS) return &info->dlpi_phdr[i];
  return nullptr;
}

int note_module(dl_phdr_info* info, size_t, void* out) {
  if (info->dlpi_tls_modid && tls_phdr(info))
    static_cast<std::vector<TlsModule>*>(out)->push_back({info->dlpi_addr, info->dlpi_tls_modid});
  return 0;
}

// A module new since the snapshot whose TLS glibc put in the static area:
// its offset below the thread pointer and its initialisation image.
struct StaticTls {
  size_t modid;
  ptrdiff_t offset;
  const char* image;
  size_t filesz, memsz;
};

struct NewModules {
  const std::vector<TlsModule>* before;
  std::vector<StaticTls> found;
};

// DF_STATIC_TLS: the module uses the initial-exec model, so glibc gave it
// static TLS when it relocated it.
bool wants_static_tls(const dl_phdr_info* info) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    if (info->dlpi_phdr[i].p_type != PT_DYNAMIC) continue;
    auto* d = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    for (; d->d_tag != DT_NULL; d++)
      if (d->d_tag == DT_FLAGS) return d->d_un.d_val & DF_STATIC_TLS;
  }
  return false;
}

int find_new_static(dl_phdr_info* info, size_t, void* arg) {
  auto* q = static_cast<NewModules*>(arg);
  const ElfW(Phdr)* tls = tls_phdr(info);
  if (!info->dlpi_tls_modid || !tls) return 0;
  TlsModule m{info->dlpi_addr, info->dlpi_tls_modid};
  for (const TlsModule& b : *q->before)
    if (b == m) return 0;
  if (!info->dlpi_tls_data && !wants_static_tls(info)) return 0;  // dynamic TLS: on demand
  q->found.push_back({info->dlpi_tls_modid, 0,
                      reinterpret_cast<const char*>(info->dlpi_addr + tls->p_vaddr), tls->p_filesz,
                      tls->p_memsz});
  return 0;
}

// Where the caller's DTV says the module's TLS is: for a module in static
// TLS, a fixed offset below the thread pointer, the same in every block
// (0: not in the static area). The DTV is brought up to date for it first,
// as the module's own first access would (no allocation: it is static).
ptrdiff_t static_offset(size_t modid) {
  struct {
    unsigned long module, offset;
  } index{modid, 0};
  char* addr = static_cast<char*>(__tls_get_addr(&index));
  ptrdiff_t offset = static_cast<char*>(thread_pointer()) - addr;
  return offset > 0 && size_t(offset) <= g.static_size - g.tcb_size ? offset : 0;
}

}  // namespace

void* tcb_dlopen(void* (*open)(const char*, int, const void*), const char* file, int mode,
                 const void* caller) {
  if (!g_private_tls) return open(file, mode, caller);
  std::vector<TlsModule> before;
  dl_iterate_phdr(note_module, &before);
  void* handle = open(file, mode, caller);
  if (!handle) return handle;
  int saved_errno = errno;
  NewModules q{&before, {}};
  dl_iterate_phdr(find_new_static, &q);
  for (StaticTls& m : q.found) m.offset = static_offset(m.modid);
  // What glibc's _dl_init_static_tls does in every thread on its own stack
  // lists: the module's image, then zeros, in each live green block.
  g_blocks_lock.lock();
  for (const StaticTls& m : q.found) {
    if (!m.offset) continue;
    for (BlockRecord* r = g_blocks.next; r != &g_blocks; r = r->next) {
      char* dest = r->tp - m.offset;
      memcpy(dest, m.image, m.filesz);
      memset(dest + m.filesz, 0, m.memsz - m.filesz);
    }
  }
  g_blocks_lock.unlock();
  errno = saved_errno;
  return handle;
}

void tcb_set_tid(void* tp, pid_t tid) {
  at<pid_t>(tp, g.tid) = tid;
}

pid_t kernel_tid() {
  long tid;
  asm volatile("syscall" : "=a"(tid) : "0"(long(SYS_gettid)) : "rcx", "r11", "memory");
  return pid_t(tid);
}

pid_t next_green_tid() {
  constexpr pid_t kTidMask = 0x3fffffff;  // FUTEX_TID_MASK: robust mutexes keep the id in 30 bits
  pid_t tid = g_next_tid.fetch_add(1);
  if (tid > kTidMask) {
    g_next_tid.store(read_pid_max() + 1);
    tid = g_next_tid.fetch_add(1);
  }
  return tid;
}

}  // namespace green
