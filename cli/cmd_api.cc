// 'warmboot api': the checkpoint API (docs/api.md) by hand, through the client library, as an
// application would use it: list, put, get and drop segments of an application. A thin front:
// parse, call the client, print.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iostream>
#include <optional>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "client/client.h"
#include "util/bytes.h"
#include "util/io.h"
#include "util/json_text.h"
#include "util/printable.h"
#include "util/status_json.h"
#include "util/unique_fd.h"

namespace warmboot::cli {
namespace {

constexpr const char* kApiHelp =
    R"(usage: warmboot api SUBCOMMAND [--socket PATH] [--json]

Talks to warmbootd, the checkpoint API's daemon (docs/api.md), as an application would.
Segments belong to the uid running the command and to the application named with --app.

  list --app NAME | --all           an application's segments (--all: every application's,
                                    root only; with --app too it registers under NAME)
  put --app NAME SEGMENT FILE|-     store FILE's bytes (-: standard input), at most 1 MiB,
                                    replacing a segment of that name
      --fd                          hand FILE over by descriptor instead: a file on tmpfs
                                    (e.g. /dev/shm), any size, nothing copied (-: the
                                    descriptor standard input is redirected from)
  get --app NAME SEGMENT            write the segment's bytes to standard output
      --output FILE                 or to FILE (created mode 0600, or truncated)
  drop --app NAME SEGMENT           remove a segment
  status                            who is registered (your uid's apps; root: every uid's),
                                    what each holds, whether a restart of warmbootd keeps it,
                                    the round running and how the last one was answered

  --socket PATH   warmbootd's socket (default /run/warmboot/api.sock)
  --json          one JSON document on stdout ('get --json' needs --output)

Exit codes: 0 ok, 1 error (no daemon at PATH, no such segment, a name or descriptor the
daemon refuses, over quota), 2 usage.
)";

constexpr uint64_t kMaxBytes = 1 << 20;  // a frame's data (docs/api.md section 5)

// What every subcommand shares: how it reports, and where the daemon is.
struct Context {
  std::string command;  // "api put": for messages and the --help hint
  bool json = false;
  std::string socket;
  std::string app;
};

int Fail(const Context& ctx, const Status& s) {
  return ReportError(s, ctx.json, ctx.command);
}

// A missing daemon is the one failure a script most wants to tell apart from a missing
// segment (both are not-found): its JSON document also says "daemon_running": false.
Result<client::Client> Connect(const Context& ctx, int* exit_code) {
  // An observer: a command run during a round is not an application the round waits for.
  auto c = client::Client::Connect(ctx.app, ctx.socket, 0, /*observer=*/true);
  if (c.ok() || c.status().code() != Code::kNotFound) {
    if (!c.ok()) *exit_code = Fail(ctx, c.status());
    return c;
  }
  Status s(Code::kNotFound, "warmbootd is not running at " + ctx.socket +
                                " (nothing listens there): start it, or give its socket with "
                                "--socket PATH");
  *exit_code = ExitCodeFor(s);
  if (ctx.json) {
    std::cout << DumpJson({{"ok", false},
                           {"exit_code", *exit_code},
                           {"error", ToJson(s)},
                           {"socket", ctx.socket},
                           {"daemon_running", false}},
                          2)
              << "\n";
  } else {
    std::cerr << "warmboot " << ctx.command << ": " << Printable(s.message(), true) << "\n";
  }
  return s;
}

// The fields every successful document has.
nlohmann::json Doc(const Context& ctx) {
  nlohmann::json j{{"socket", ctx.socket}};
  if (!ctx.app.empty()) j["app"] = ctx.app;
  return j;
}

std::string Quoted(const std::string& name) {
  return "'" + Printable(name) + "'";
}

int List(const Context& ctx, const Args& args) {
  if (!args.positional.empty()) return Fail(ctx, UsageError("list takes no SEGMENT"));
  const bool all = args.Has("all");
  if (ctx.app.empty() && !all) return Fail(ctx, UsageError("list needs --app NAME or --all"));
  Context c = ctx;
  // Registering is how a client speaks at all; --all alone registers under a name of its own,
  // which creates nothing.
  if (c.app.empty()) c.app = "warmboot-cli";
  int code = kExitOk;
  auto client = Connect(c, &code);
  if (!client.ok()) return code;
  auto list = client->List(all);
  if (!list.ok()) return Fail(ctx, list.status());
  uint64_t total = 0;
  for (const client::Segment& s : *list) total += s.size;
  if (ctx.json) {
    nlohmann::json doc = Doc(ctx), segments = nlohmann::json::array();
    for (const client::Segment& s : *list) {
      nlohmann::json e{{"segment", s.name}, {"size", s.size}, {"kind", s.kind}};
      if (all) {
        e["uid"] = s.uid;
        e["app"] = s.app;
      }
      segments.push_back(std::move(e));
    }
    doc["all"] = all;
    doc["segments"] = std::move(segments);
    doc["bytes"] = total;
    PrintJson(std::move(doc), kExitOk);
    return kExitOk;
  }
  const std::string whose = all ? "every application" : "app " + Printable(ctx.app);
  if (list->empty()) {
    std::cout << whose << " has no segments at " << Printable(ctx.socket) << "\n";
    return kExitOk;
  }
  std::cout << whose << ": " << list->size() << " segment" << (list->size() == 1 ? "" : "s") << ", "
            << HumanBytes(total) << "\n";
  for (const client::Segment& s : *list) {
    std::cout << "  ";
    if (all) std::cout << "uid " << s.uid << " app " << Printable(s.app) << "  ";
    std::cout << Printable(s.name) << "  " << s.kind << "  " << HumanBytes(s.size) << "\n";
  }
  return kExitOk;
}

// FILE's bytes (or standard input's), refusing more than kMaxBytes.
Result<std::string> ReadInput(const std::string& file) {
  UniqueFd owned;
  int fd = STDIN_FILENO;
  const std::string what = file == "-" ? std::string("standard input") : file;
  if (file != "-") {
    owned = UniqueFd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!owned.valid()) return ErrnoError("cannot open " + file, errno);
    fd = owned.get();
  }
  std::string bytes(kMaxBytes + 1, '\0');
  size_t got = 0;
  if (int err = ReadFull(fd, bytes.data(), bytes.size(), &got); err != 0) {
    return ErrnoError("cannot read " + what, err);
  }
  if (got > kMaxBytes) {
    return InvalidArgument(what + " holds more than 1 MiB, the most a put of bytes takes: put " +
                           "a file on tmpfs (e.g. /dev/shm) by descriptor with --fd");
  }
  bytes.resize(got);
  return bytes;
}

int Put(const Context& ctx, const Args& args) {
  if (ctx.app.empty()) return Fail(ctx, UsageError("put needs --app NAME"));
  if (args.positional.size() != 2) return Fail(ctx, UsageError("put takes SEGMENT and FILE|-"));
  const std::string& segment = args.positional[0];
  const std::string& file = args.positional[1];
  const bool by_fd = args.Has("fd");
  // Read before connecting: a bad FILE is reported the same with or without a daemon.
  std::string bytes;
  UniqueFd owned;
  int fd = -1;
  uint64_t size = 0;
  if (by_fd) {
    if (file == "-") {
      fd = STDIN_FILENO;
    } else {
      owned = UniqueFd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
      if (!owned.valid()) return Fail(ctx, ErrnoError("cannot open " + file, errno));
      fd = owned.get();
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) return Fail(ctx, ErrnoError("cannot stat " + file, errno));
    size = static_cast<uint64_t>(st.st_size);
  } else {
    auto read = ReadInput(file);
    if (!read.ok()) return Fail(ctx, read.status());
    bytes = std::move(*read);
    size = bytes.size();
  }
  int code = kExitOk;
  auto client = Connect(ctx, &code);
  if (!client.ok()) return code;
  Status s = by_fd ? client->PutFd(segment, fd) : client->PutBytes(segment, bytes);
  if (!s.ok()) return Fail(ctx, s);
  if (ctx.json) {
    nlohmann::json doc = Doc(ctx);
    doc["segment"] = segment;
    doc["kind"] = by_fd ? "fd" : "bytes";
    doc["size"] = size;
    PrintJson(std::move(doc), kExitOk);
  } else {
    std::cout << "stored segment " << Quoted(segment) << " of app " << Printable(ctx.app) << ": "
              << HumanBytes(size)
              << (by_fd ? " by descriptor (nothing copied)" : " of bytes (copied)") << "\n";
  }
  return kExitOk;
}

// Copies `size` bytes of `in` (from offset 0) to `out`.
Status Copy(int in, int out, uint64_t size, const std::string& to) {
  std::string buf(1 << 20, '\0');
  for (uint64_t off = 0; off < size;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
    size_t got = 0;
    if (int err = PreadFull(in, buf.data(), want, off, &got); err != 0) {
      return ErrnoError("cannot read the segment", err);
    }
    if (got == 0) return IoError("the segment ended before its size");
    if (int err = WriteAll(out, buf.data(), got); err != 0) {
      return ErrnoError("cannot write " + to, err);
    }
    off += got;
  }
  return Status::Ok();
}

int Get(const Context& ctx, const Args& args) {
  if (ctx.app.empty()) return Fail(ctx, UsageError("get needs --app NAME"));
  if (args.positional.size() != 1) return Fail(ctx, UsageError("get takes SEGMENT"));
  const std::string& segment = args.positional[0];
  std::optional<std::string> output = args.Get("output");
  if (ctx.json && !output) {
    return Fail(ctx, UsageError("get --json needs --output FILE (the document takes stdout)"));
  }
  int code = kExitOk;
  auto client = Connect(ctx, &code);
  if (!client.ok()) return code;
  uint64_t size = 0;
  auto fd = client->Get(segment, &size);
  if (!fd.ok()) return Fail(ctx, fd.status());
  UniqueFd in(*fd);
  // The file is opened only once the segment is known to exist: a failed get leaves no file.
  UniqueFd out;
  if (output) {
    out = UniqueFd(::open(output->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!out.valid()) return Fail(ctx, ErrnoError("cannot create " + *output, errno));
  }
  const std::string to = output ? *output : std::string("standard output");
  Status s = Copy(in.get(), output ? out.get() : STDOUT_FILENO, size, to);
  if (s.ok() && output && ::close(out.release()) != 0) {
    s = ErrnoError("cannot write " + *output, errno);
  }
  if (!s.ok()) return Fail(ctx, s);
  if (ctx.json) {
    nlohmann::json doc = Doc(ctx);
    doc["segment"] = segment;
    doc["size"] = size;
    doc["output"] = *output;
    PrintJson(std::move(doc), kExitOk);
  } else if (output) {
    std::cout << "wrote segment " << Quoted(segment) << " of app " << Printable(ctx.app) << " ("
              << HumanBytes(size) << ") to " << Printable(*output) << "\n";
  }
  return kExitOk;
}

int Drop(const Context& ctx, const Args& args) {
  if (ctx.app.empty()) return Fail(ctx, UsageError("drop needs --app NAME"));
  if (args.positional.size() != 1) return Fail(ctx, UsageError("drop takes SEGMENT"));
  const std::string& segment = args.positional[0];
  int code = kExitOk;
  auto client = Connect(ctx, &code);
  if (!client.ok()) return code;
  auto size = client->Drop(segment);
  if (!size.ok()) return Fail(ctx, size.status());
  if (ctx.json) {
    nlohmann::json doc = Doc(ctx);
    doc["segment"] = segment;
    doc["size"] = *size;
    PrintJson(std::move(doc), kExitOk);
  } else {
    std::cout << "dropped segment " << Quoted(segment) << " of app " << Printable(ctx.app) << " ("
              << HumanBytes(*size) << ")\n";
  }
  return kExitOk;
}

std::string Plural(uint64_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// The human form of the daemon's status (docs/api.md, "status").
void PrintStatus(const Context& ctx, nlohmann::json& st) {
  // What the daemon sent is read defensively: a member missing or of another type is skipped.
  static const nlohmann::json kNone = nlohmann::json::array();
  auto array = [](const nlohmann::json& j, const char* key) -> const nlohmann::json& {
    auto it = j.find(key);
    return it != j.end() && it->is_array() ? *it : kNone;
  };
  const nlohmann::json& apps = array(st, "apps");
  std::cout << "warmbootd at " << Printable(ctx.socket) << ": " << Plural(apps.size(), "app")
            << ", " << Plural(st.value("segments", 0ull), "segment") << ", "
            << HumanBytes(st.value("bytes", 0ull));
  if (uint64_t cap = st.value("capacity", 0ull); cap != 0) {
    std::cout << " of " << HumanBytes(cap) << " the pmem holds";
  }
  std::cout << "\n";
  std::cout << (st.value("kept", false)
                    ? "  a restart of warmbootd keeps them (systemd's fd store)\n"
                    : "  a restart of warmbootd loses them: run it as warmbootd.service\n");
  if (st.contains("reload") && st["reload"].is_object()) {
    const nlohmann::json& r = st["reload"];
    std::cout << "  brought back " << Plural(r.value("segments", 0ull), "segment")
              << " after a restart";
    if (r.value("lost", 0ull) > 0) std::cout << "; " << r["lost"] << " could not be";
    std::cout << "\n";
  }
  for (const nlohmann::json& a : apps) {
    if (!a.is_object()) continue;
    std::cout << "  uid " << a.value("uid", 0) << " app " << Printable(a.value("app", "")) << ": "
              << Plural(a.value("connections", 0ull), "connection") << ", "
              << Plural(a.value("segments", 0ull), "segment") << ", "
              << HumanBytes(a.value("bytes", 0ull));
    if (a.contains("lost")) std::cout << ", " << a["lost"] << " lost in a restart";
    std::cout << "\n";
  }
  auto round = [&](const char* what, const nlohmann::json& r) {
    if (!r.is_object()) return;
    std::cout << what << " round " << r.value("round", 0ull) << ": " << r.value("ready", 0ull)
              << " of " << array(r, "apps").size() << " ready\n";
    for (const nlohmann::json& a : array(r, "apps")) {
      if (!a.is_object()) continue;
      std::cout << "  " << Printable(a.value("app", "")) << " (uid " << a.value("uid", 0)
                << "): " << a.value("answer", "");
      if (a.contains("reason")) std::cout << ": " << Printable(a.value("reason", ""));
      std::cout << "\n";
    }
  };
  if (st.contains("round")) round("running", st["round"]);
  if (st.contains("last_round")) {
    round("last", st["last_round"]);
  } else if (!st.contains("round")) {
    std::cout << "no checkpoint round yet (warmboot preserve runs one)\n";
  }
}

int StatusCmd(const Context& ctx, const Args& args) {
  if (!args.positional.empty()) return Fail(ctx, UsageError("status takes no arguments"));
  Context c = ctx;
  if (c.app.empty()) c.app = "warmboot-cli";
  int code = kExitOk;
  auto client = Connect(c, &code);
  if (!client.ok()) return code;
  auto text = client->StatusJson();
  if (!text.ok()) return Fail(ctx, text.status());
  nlohmann::json st = nlohmann::json::parse(*text, nullptr, false);
  if (!st.is_object()) return Fail(ctx, Corruption("warmbootd's status is not a JSON object"));
  if (ctx.json) {
    nlohmann::json doc = Doc(ctx);
    doc.erase("app");
    doc.update(st);
    PrintJson(std::move(doc), kExitOk);
    return kExitOk;
  }
  try {
    PrintStatus(ctx, st);
  } catch (const nlohmann::json::exception& e) {  // a member of another type than documented
    return Fail(ctx, Corruption(std::string("warmbootd's status is malformed: ") + e.what()));
  }
  return kExitOk;
}

}  // namespace

int CmdApi(const Argv& given) {
  Argv argv = given;
  const bool json = WantsJson(argv);
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    (argv.empty() ? std::cerr : std::cout) << kApiHelp;
    if (argv.empty()) return kExitUsage;
    return kExitOk;
  }
  // The subcommand is the first word that is neither an option nor an option's value: options
  // may come before it, as everywhere ('warmboot api --socket S list').
  size_t at = 0;
  while (at < argv.size() && argv[at].starts_with("-") && argv[at] != "--") {
    const std::string& a = argv[at++];
    if (a == "--socket" || a == "--app" || a == "--output") ++at;  // and its value
  }
  if (at < argv.size() && argv[at] == "--") argv.erase(argv.begin() + static_cast<long>(at));
  if (at >= argv.size()) {
    return ReportError(UsageError("api needs a subcommand (list, put, get, drop, status)"), json,
                       "api");
  }
  const std::string sub = argv[at];
  argv.erase(argv.begin() + static_cast<long>(at));
  std::vector<OptionSpec> spec{{"socket", true}, {"app", true}};
  int (*run)(const Context&, const Args&) = nullptr;
  if (sub == "list") {
    spec.push_back({"all", false});
    run = List;
  } else if (sub == "put") {
    spec.push_back({"fd", false});
    run = Put;
  } else if (sub == "get") {
    spec.push_back({"output", true});
    run = Get;
  } else if (sub == "drop") {
    run = Drop;
  } else if (sub == "status") {
    run = StatusCmd;
  } else {
    return ReportError(
        UsageError("unknown api subcommand '" + sub + "' (list, put, get, drop, status)"), json,
        "api");
  }
  Context ctx{"api " + sub, json, client::kDefaultSocket, ""};
  auto args = ParseArgs(argv, spec);
  if (!args.ok()) return Fail(ctx, args.status());
  if (args->Has("help")) {
    std::cout << kApiHelp;
    return kExitOk;
  }
  if (auto socket = args->Get("socket")) ctx.socket = *socket;
  if (auto app = args->Get("app")) ctx.app = *app;
  if (args->Has("app") && ctx.app.empty()) return Fail(ctx, UsageError("--app needs a name"));
  return run(ctx, *args);
}

}  // namespace warmboot::cli
