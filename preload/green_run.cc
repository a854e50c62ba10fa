// green-run: runs a program under libgreen, as torsocks or faketime run
// one under theirs.
//
//   green-run [OPTIONS] [--] PROGRAM [ARGS...]
//   green-run --check PROGRAM
//
// It finds its own libgreen.so (beside it in the build tree, or in ../lib
// of an install prefix), puts it first in LD_PRELOAD, turns each option into
// its GREEN_* variable (checked by the same parsers the library uses), says
// before running anything when the preload cannot take effect or will not be
// enough, and execs the program, whose exit status is then its own.
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "preload/config.h"

namespace {

constexpr const char* kVersion = "green-run (libgreen) 0.4";

[[noreturn]] void usage_error(const std::string& what) {
  fprintf(stderr, "green-run: %s (green-run --help lists the options)\n", what.c_str());
  exit(2);
}

void print_help() {
  printf(
      "usage: green-run [OPTIONS] [--] PROGRAM [ARGS...]\n"
      "       green-run --check PROGRAM\n\n"
      "Runs PROGRAM with libgreen preloaded: every thread it creates is a green thread.\n\n"
      "options (each sets the GREEN_* variable named, checked before the program runs):\n");
  for (size_t i = 0; i < green::kConfigVarCount; i++) {
    const green::ConfigVar& v = green::kConfigVars[i];
    std::string flag = std::string("--") + v.option + (v.bare ? "[=VALUE]" : "=VALUE");
    printf("  %-24s %s\n  %-24s %s; default %s%s%s\n", flag.c_str(), v.name, "", v.accepts,
           v.default_value, v.bare ? "; bare: " : "", v.bare ? v.bare : "");
  }
  printf("  %-24s %s\n  %-24s %s\n  %-24s %s\n", "--check",
         "only say whether the preload takes "
         "effect on PROGRAM (exit 0: it does, 1: it does not)",
         "--help", "this text", "--version", "the version");
}

// ---- finding things ----

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string find_library() {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "";
  self[n] = '\0';
  std::string dir = dir_of(self);
  for (const std::string& candidate :
       {dir + "/libgreen.so", dir + "/../lib/libgreen.so", dir + "/../lib/libgreen/libgreen.so"})
    if (access(candidate.c_str(), R_OK) == 0) {
      char real[4096];
      return realpath(candidate.c_str(), real) ? real : candidate;
    }
  return "";
}

// As a shell does: a name without a slash is looked up in PATH. Exits 127
// when there is no such program, 126 when it cannot be executed.
std::string resolve_program(const std::string& name) {
  if (name.empty()) {
    fprintf(stderr, "green-run: '': no such program\n");
    exit(127);
  }
  std::vector<std::string> candidates;
  if (name.find('/') != std::string::npos) {
    candidates.push_back(name);
  } else {
    const char* path = getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    for (;;) {
      size_t colon = dirs.find(':', start);
      std::string dir = dirs.substr(start, colon - start);
      candidates.push_back((dir.empty() ? "." : dir) + "/" + name);
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  std::string found_unrunnable;
  for (const std::string& c : candidates) {
    struct stat st;
    if (stat(c.c_str(), &st) != 0) continue;
    if (S_ISREG(st.st_mode) && access(c.c_str(), X_OK) == 0) return c;
    if (found_unrunnable.empty()) found_unrunnable = c;
  }
  if (!found_unrunnable.empty()) {
    fprintf(stderr, "green-run: %s: cannot be executed (not an executable file)\n",
            found_unrunnable.c_str());
    exit(126);
  }
  fprintf(stderr, "green-run: %s: no such program\n", name.c_str());
  exit(127);
}

// ---- will the preload take effect? ----

struct Verdict {
  std::vector<std::string> stoppers;  // LD_PRELOAD will not be applied at all
  std::vector<std::string> warnings;  // it applies, but not everything will be green
};

bool read_at(int fd, off_t offset, void* out, size_t n) {
  return pread(fd, out, n, offset) == ssize_t(n);
}

// The DT_NEEDED names of a 64-bit ELF file, and whether it has an interpreter.
bool elf_facts(int fd, bool* dynamic, std::vector<std::string>* needed) {
  Elf64_Ehdr eh;
  if (!read_at(fd, 0, &eh, sizeof eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64)
    return false;
  std::vector<Elf64_Phdr> ph(eh.e_phnum);
  if (!read_at(fd, off_t(eh.e_phoff), ph.data(), ph.size() * sizeof(Elf64_Phdr))) return false;
  *dynamic = false;
  const Elf64_Phdr* dyn = nullptr;
  for (const Elf64_Phdr& p : ph) {
    if (p.p_type == PT_INTERP) *dynamic = true;
    if (p.p_type == PT_DYNAMIC) dyn = &p;
  }
  if (!dyn) return true;
  std::vector<Elf64_Dyn> entries(dyn->p_filesz / sizeof(Elf64_Dyn));
  if (!read_at(fd, off_t(dyn->p_offset), entries.data(), entries.size() * sizeof(Elf64_Dyn)))
    return true;
  uint64_t strtab = 0;
  for (const Elf64_Dyn& d : entries)
    if (d.d_tag == DT_STRTAB) strtab = d.d_un.d_ptr;
  off_t strtab_offset = -1;  // the address, as a file offset
  for (const Elf64_Phdr& p : ph)
    if (p.p_type == PT_LOAD && strtab >= p.p_vaddr && strtab < p.p_vaddr + p.p_filesz)
      strtab_offset = off_t(strtab - p.p_vaddr + p.p_offset);
  if (strtab_offset < 0) return true;
  for (const Elf64_Dyn& d : entries) {
    if (d.d_tag != DT_NEEDED) continue;
    char name[256] = {};
    if (pread(fd, name, sizeof name - 1, strtab_offset + off_t(d.d_un.d_val)) > 0)
      needed->push_back(name);
  }
  return true;
}

Verdict examine(const std::string& path) {
  Verdict v;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return v;
  if (st.st_mode & (S_ISUID | S_ISGID))
    v.stoppers.push_back(
        std::string("it is set-user-ID or set-group-ID: the loader ignores "
                    "LD_PRELOAD for it"));
  if (getxattr(path.c_str(), "security.capability", nullptr, 0) > 0)
    v.stoppers.push_back("it has file capabilities: the loader ignores LD_PRELOAD for it");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return v;
  char head[256] = {};
  ssize_t got = pread(fd, head, sizeof head - 1, 0);
  if (got > 2 && head[0] == '#' && head[1] == '!') {
    // A script: what runs is its interpreter.
    std::string line(head + 2, strcspn(head + 2, "\n"));
    size_t begin = line.find_first_not_of(" \t");
    std::string interpreter = begin == std::string::npos
                                  ? ""
                                  : line.substr(begin, line.find_first_of(" \t", begin) - begin);
    close(fd);
    if (interpreter.empty() || interpreter == path) return v;
    Verdict inner = examine(interpreter);
    for (std::string& s : inner.stoppers) s = "its interpreter " + interpreter + ": " + s;
    for (std::string& s : inner.warnings) s = "its interpreter " + interpreter + ": " + s;
    v.stoppers.insert(v.stoppers.end(), inner.stoppers.begin(), inner.stoppers.end());
    v.warnings.insert(v.warnings.end(), inner.warnings.begin(), inner.warnings.end());
    return v;
  }
  bool dynamic = true;
  std::vector<std::string> needed;
  if (elf_facts(fd, &dynamic, &needed)) {
    if (!dynamic)
      v.stoppers.push_back("it is statically linked: there is no dynamic loader to preload into");
    for (const std::string& n : needed)
      if (n.compare(0, 8, "liburing") == 0)
        v.warnings.push_back("it links " + n +
                             ": its io_uring waits are inline system calls "
                             "that no preload sees, and they block every green thread");
  }
  close(fd);
  return v;
}

void say(const std::string& program, const Verdict& v) {
  for (const std::string& s : v.stoppers)
    fprintf(stderr, "green-run: %s: libgreen will not take effect: %s\n", program.c_str(),
            s.c_str());
  for (const std::string& s : v.warnings)
    fprintf(stderr, "green-run: %s: libgreen will not be enough: %s\n", program.c_str(), s.c_str());
}

// ---- options ----

const green::ConfigVar* option_var(const std::string& name) {
  for (size_t i = 0; i < green::kConfigVarCount; i++)
    if (name == green::kConfigVars[i].option) return &green::kConfigVars[i];
  return nullptr;
}

void apply_option(const std::string& arg) {
  size_t eq = arg.find('=');
  std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
  const green::ConfigVar* var = option_var(name);
  if (!var) usage_error("unknown option '" + arg + "'");
  std::string value;
  if (eq != std::string::npos)
    value = arg.substr(eq + 1);
  else if (var->bare)
    value = var->bare;
  else
    usage_error("--" + name + " needs a value: --" + name + "=VALUE, VALUE " + var->accepts);
  std::string error;
  if (!green::check_config_var(*var, value.c_str(), &error))
    usage_error("--" + name + "='" + value + "' is not valid: expected " + var->accepts);
  setenv(var->name, value.c_str(), 1);
}

}  // namespace

int main(int argc, char** argv) {
  bool check = false;
  int i = 1;
  for (; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--") {
      i++;
      break;
    }
    if (arg.size() > 1 && arg[0] == '-' && arg[1] != '-')
      usage_error("unknown option '" + arg +
                  "' (a program whose name begins with - goes after --)");
    if (arg.compare(0, 2, "--") != 0) break;
    if (arg == "--help") {
      print_help();
      return 0;
    }
    if (arg == "--version") {
      printf("%s\n", kVersion);
      return 0;
    }
    if (arg == "--check") {
      check = true;
      continue;
    }
    apply_option(arg);
  }
  if (i >= argc) usage_error("no program given");
  std::string program = resolve_program(argv[i]);
  Verdict verdict = examine(program);
  if (check) {
    say(program, verdict);
    if (verdict.stoppers.empty())
      printf("green-run: %s: libgreen takes effect%s\n", program.c_str(),
             verdict.warnings.empty() ? "" : " (with the limits above)");
    return verdict.stoppers.empty() ? 0 : 1;
  }
  say(program, verdict);
  std::string lib = find_library();
  if (lib.empty()) {
    fprintf(stderr, "green-run: libgreen.so is neither beside green-run nor in ../lib\n");
    return 2;
  }
  const char* old = getenv("LD_PRELOAD");
  std::string preload = lib + (old && *old ? std::string(":") + old : "");
  setenv("LD_PRELOAD", preload.c_str(), 1);
  execv(program.c_str(), argv + i);
  int err = errno;
  fprintf(stderr, "green-run: %s: %s\n", program.c_str(), strerror(err));
  return err == ENOENT ? 127 : 126;
}
