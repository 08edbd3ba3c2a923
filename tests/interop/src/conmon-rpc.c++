// conmon-rpc: a command-line client for the conmon-rs Cap'n Proto RPC (interface Conmon), on the
// official C++ library (kj async I/O, capnp::TwoPartyClient). One subcommand = one call; the
// response struct is printed as one JSON line (see json.h). Requests are built through the
// dynamic API from a table of options, so the same source serves any layout of the schema
// (conmon.capnp v1.0 or conmon-v0.7.3.capnp, chosen at build time).
//
// Exit status: 0 answered, 1 RPC or connection error ({"error","type","remote"}), 2 usage error.

#include "conmon.capnp.h"
#include "json.h"

#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/timer.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

using capnp::DynamicList;
using capnp::DynamicStruct;
using capnp::DynamicValue;
using capnp::StructSchema;

// ---- the command table ----------------------------------------------------------------------

enum class Kind {
  Text,       // --opt VALUE -> Text field
  Flag,       // --opt -> Bool field = true
  TextList,   // repeated --opt VALUE -> List(Text)
  U64List,    // repeated --opt N -> List(UInt64)
  U16,        // --opt N -> UInt16
  U64,        // --opt N -> UInt64
  Enum,       // --opt NAME -> enum field, by enumerant name
  EnumList,   // repeated --opt NAME -> List(enum)
  Map,        // repeated --opt K=V -> List(TextTextMapEntry)
  LogDriver,  // repeated --opt TYPE:PATH[:MAXSIZE] -> List(LogDriver)
};

struct Option {
  const char* name;   // without the leading --
  const char* field;  // field of the request struct
  Kind kind;
};

struct Command {
  const char* name;
  const char* method;    // Conmon method
  const char* synopsis;  // for usage errors
  std::vector<Option> options;
  const char* commandField = nullptr;  // List(Text) filled from the words after `--` (or the first bare word)
  bool stress = false;                 // stress-version N
};

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"version", "version", "[--verbose]", {{"verbose", "verbose", Kind::Flag}}},
      {"create", "createContainer",
       "--id ID --bundle PATH [--terminal] [--stdin] [--exit-path P]... [--oom-exit-path P]... "
       "[--log-driver TYPE:PATH[:MAXSIZE]]... [--cleanup-cmd ARG]... [--global-arg A]... [--command-arg A]... "
       "[--env K=V]... [--cgroup-manager systemd|cgroupfs] [--additional-fd N]... [--leak-fd N]...",
       {{"id", "id", Kind::Text},
        {"bundle", "bundlePath", Kind::Text},
        {"terminal", "terminal", Kind::Flag},
        {"stdin", "stdin", Kind::Flag},
        {"exit-path", "exitPaths", Kind::TextList},
        {"oom-exit-path", "oomExitPaths", Kind::TextList},
        {"log-driver", "logDrivers", Kind::LogDriver},
        {"cleanup-cmd", "cleanupCmd", Kind::TextList},
        {"global-arg", "globalArgs", Kind::TextList},
        {"command-arg", "commandArgs", Kind::TextList},
        {"env", "envVars", Kind::Map},
        {"cgroup-manager", "cgroupManager", Kind::Enum},
        {"additional-fd", "additionalFds", Kind::U64List},
        {"leak-fd", "leakFds", Kind::U64List}}},
      {"exec-sync", "execSyncContainer",
       "--id ID [--timeout SEC] [--terminal] [--env K=V]... [--cgroup-manager M] -- CMD ARGS...",
       {{"id", "id", Kind::Text},
        {"timeout", "timeoutSec", Kind::U64},
        {"terminal", "terminal", Kind::Flag},
        {"env", "envVars", Kind::Map},
        {"cgroup-manager", "cgroupManager", Kind::Enum}},
       "command"},
      {"attach", "attachContainer", "--id ID --socket-path P [--exec-session-id X] [--stop-after-stdin-eof]",
       {{"id", "id", Kind::Text},
        {"socket-path", "socketPath", Kind::Text},
        {"exec-session-id", "execSessionId", Kind::Text},
        {"stop-after-stdin-eof", "stopAfterStdinEof", Kind::Flag}}},
      {"reopen-log", "reopenLogContainer", "--id ID", {{"id", "id", Kind::Text}}},
      {"set-window-size", "setWindowSizeContainer", "--id ID --width W --height H",
       {{"id", "id", Kind::Text}, {"width", "width", Kind::U16}, {"height", "height", Kind::U16}}},
      {"create-namespaces", "createNamespaces",
       "--pod-id ID [--base-path P] [--ns ipc|net|pid|user|uts]... [--uid-mapping \"C H S\"]... [--gid-mapping \"C H S\"]...",
       {{"pod-id", "podId", Kind::Text},
        {"base-path", "basePath", Kind::Text},
        {"ns", "namespaces", Kind::EnumList},
        {"uid-mapping", "uidMappings", Kind::TextList},
        {"gid-mapping", "gidMappings", Kind::TextList}}},
      {"start-fd-socket", "startFdSocket", "", {}},
      {"serve-exec", "serveExecContainer",
       "--id ID [--tty] [--stdin] [--stdout] [--stderr] [--cgroup-manager M] -- CMD...",
       {{"id", "id", Kind::Text},
        {"tty", "tty", Kind::Flag},
        {"stdin", "stdin", Kind::Flag},
        {"stdout", "stdout", Kind::Flag},
        {"stderr", "stderr", Kind::Flag},
        {"cgroup-manager", "cgroupManager", Kind::Enum}},
       "command"},
      {"serve-attach", "serveAttachContainer", "--id ID [--stdin] [--stdout] [--stderr]",
       {{"id", "id", Kind::Text},
        {"stdin", "stdin", Kind::Flag},
        {"stdout", "stdout", Kind::Flag},
        {"stderr", "stderr", Kind::Flag}}},
      {"serve-port-forward", "servePortForwardContainer", "--netns-path P", {{"netns-path", "netNsPath", Kind::Text}}},
      {"stress-version", "version", "N [--verbose]", {{"verbose", "verbose", Kind::Flag}}, nullptr, true},
  };
  return table;
}

const char* const kCommonSynopsis = "[--meta K=V]... [--print-request] [--rpc-timeout SEC]";

// ---- errors and output ----------------------------------------------------------------------

struct UsageError {
  std::string message;
};

void printLine(FILE* f, const std::string& line) {
  fwrite(line.data(), 1, line.size(), f);
  fputc('\n', f);
  fflush(f);
}

std::string overview();

// The error as JSON on stdout, the list of commands on stderr.
int usageError(const std::string& message) {
  std::string out = "{\"error\":";
  interop::appendJsonString(out, kj::StringPtr(("usage: " + message).c_str()));
  out += ",\"remote\":false}";
  printLine(stdout, out);
  fputs(overview().c_str(), stderr);
  return 2;
}

int rpcError(const kj::Exception& e) {
  kj::StringPtr description = e.getDescription();
  static const char prefix[] = "remote exception: ";
  bool remote = description.startsWith(prefix);
  if (remote) description = description.slice(sizeof(prefix) - 1);
  const char* type = "failed";
  switch (e.getType()) {
    case kj::Exception::Type::FAILED: type = "failed"; break;
    case kj::Exception::Type::OVERLOADED: type = "overloaded"; break;
    case kj::Exception::Type::DISCONNECTED: type = "disconnected"; break;
    case kj::Exception::Type::UNIMPLEMENTED: type = "unimplemented"; break;
  }
  std::string out = "{\"error\":";
  interop::appendJsonString(out, description);
  out += ",\"type\":\"";
  out += type;
  out += "\",\"remote\":";
  out += remote ? "true" : "false";
  out += '}';
  printLine(stdout, out);
  return 1;
}

std::string synopsisOf(const Command& c) {
  std::string options = c.synopsis, command;
  size_t dashes = options.find(" -- ");
  if (dashes != std::string::npos) {  // the common options go before the command
    command = options.substr(dashes);
    options.resize(dashes);
  }
  return std::string("conmon-rpc SOCK ") + c.name + (options.empty() ? "" : " ") + options + " " + kCommonSynopsis + command;
}

// ---- argument parsing -----------------------------------------------------------------------

uint64_t parseUnsigned(const std::string& option, const std::string& text, uint64_t max) {
  if (text.empty() || text.size() > 20) throw UsageError{"--" + option + " needs a number, not '" + text + "'"};
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') throw UsageError{"--" + option + " needs a number, not '" + text + "'"};
    uint64_t d = uint64_t(c - '0');
    if (v > (UINT64_MAX - d) / 10) throw UsageError{"--" + option + " " + text + " is out of range"};
    v = v * 10 + d;
  }
  if (v > max) throw UsageError{"--" + option + " " + text + " is out of range (0.." + std::to_string(max) + ")"};
  return v;
}

std::pair<std::string, std::string> splitKeyValue(const std::string& option, const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos) throw UsageError{"--" + option + " needs K=V, not '" + text + "'"};
  return {text.substr(0, eq), text.substr(eq + 1)};
}

struct Invocation {
  const Command* command = nullptr;
  std::vector<std::vector<std::string>> values;  // per option of the command, every value given
  bool commandGiven = false;
  std::vector<std::string> commandWords;
  std::vector<std::pair<std::string, std::string>> meta;
  bool printRequest = false;
  double rpcTimeout = 0;  // seconds; 0 = none
  uint64_t stressCalls = 0;
  bool stressCallsGiven = false;
};

Invocation parseArgs(const Command& command, int argc, char** argv) {
  Invocation inv;
  inv.command = &command;
  inv.values.resize(command.options.size());
  for (int i = 0; i < argc; i++) {
    std::string arg = argv[i];
    if (inv.commandGiven) {
      inv.commandWords.push_back(arg);
      continue;
    }
    if (arg == "--") {
      if (command.commandField == nullptr) throw UsageError{std::string(command.name) + " takes no command"};
      inv.commandGiven = true;
      continue;
    }
    if (arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
      size_t eq = arg.find('=');
      std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      bool inlineValue = eq != std::string::npos;
      auto takeValue = [&]() -> std::string {
        if (inlineValue) return arg.substr(eq + 1);
        if (i + 1 >= argc) throw UsageError{"--" + name + " needs a value"};
        return argv[++i];
      };
      if (name == "print-request") {
        if (inlineValue) throw UsageError{"--print-request takes no value"};
        inv.printRequest = true;
        continue;
      }
      if (name == "meta") {
        inv.meta.push_back(splitKeyValue(name, takeValue()));
        continue;
      }
      if (name == "rpc-timeout") {
        std::string v = takeValue();
        char* end = nullptr;
        double sec = strtod(v.c_str(), &end);
        if (v.empty() || *end != '\0' || !(sec > 0) || sec > 1e6) throw UsageError{"--rpc-timeout needs seconds > 0, not '" + v + "'"};
        inv.rpcTimeout = sec;
        continue;
      }
      size_t k = 0;
      while (k < command.options.size() && name != command.options[k].name) k++;
      if (k == command.options.size()) throw UsageError{"unknown option --" + name + " for " + command.name};
      if (command.options[k].kind == Kind::Flag) {
        if (inlineValue) throw UsageError{"--" + name + " takes no value"};
        inv.values[k].push_back("");
      } else {
        inv.values[k].push_back(takeValue());
      }
      continue;
    }
    // a bare word
    if (command.commandField != nullptr) {
      inv.commandGiven = true;
      inv.commandWords.push_back(arg);
    } else if (command.stress && !inv.stressCallsGiven) {
      inv.stressCalls = parseUnsigned("stress-version N", arg, 10'000'000);
      inv.stressCallsGiven = true;
    } else {
      throw UsageError{"unexpected argument '" + arg + "'"};
    }
  }
  if (command.stress && !inv.stressCallsGiven) throw UsageError{"stress-version needs the number of calls"};
  return inv;
}

capnp::DynamicEnum enumByName(capnp::EnumSchema schema, const std::string& option, const std::string& name) {
  KJ_IF_MAYBE(e, schema.findEnumerantByName(name)) { return capnp::DynamicEnum(*e); }
  std::string names;
  for (auto e : schema.getEnumerants()) names += std::string(names.empty() ? "" : "|") + e.getProto().getName().cStr();
  throw UsageError{"--" + option + " must be " + names + ", not '" + name + "'"};
}

capnp::Text::Reader text(const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); }

void fillTextList(DynamicStruct::Builder request, const char* field, const std::vector<std::string>& values) {
  auto list = request.init(field, values.size()).as<DynamicList>();
  for (uint i = 0; i < values.size(); i++) list.set(i, text(values[i]));
}

void fillMap(DynamicStruct::Builder request, const char* field, const std::vector<std::pair<std::string, std::string>>& entries) {
  auto list = request.init(field, entries.size()).as<DynamicList>();
  for (uint i = 0; i < entries.size(); i++) {
    auto entry = list[i].as<DynamicStruct>();
    entry.set("key", text(entries[i].first));
    entry.set("value", text(entries[i].second));
  }
}

void fillLogDrivers(DynamicStruct::Builder request, const char* field, const std::vector<std::string>& specs) {
  auto list = request.init(field, specs.size()).as<DynamicList>();
  for (uint i = 0; i < specs.size(); i++) {
    const std::string& spec = specs[i];
    size_t colon = spec.find(':');
    std::string type = spec.substr(0, colon);
    std::string path = colon == std::string::npos ? "" : spec.substr(colon + 1);
    uint64_t maxSize = 0;
    size_t last = path.rfind(':');
    if (last != std::string::npos && last + 1 < path.size() &&
        path.find_first_not_of("0123456789", last + 1) == std::string::npos) {
      maxSize = parseUnsigned("log-driver MAXSIZE", path.substr(last + 1), UINT64_MAX);
      path.resize(last);
    }
    if (type == "cri" || type == "k8s-file") type = "containerRuntimeInterface";
    auto driver = list[i].as<DynamicStruct>();
    auto typeSchema = driver.getSchema().getFieldByName("type").getType().asEnum();
    if (type != "containerRuntimeInterface" && type != "json" && type != "journald")
      throw UsageError{"--log-driver TYPE must be cri, k8s-file, json or journald, not '" + spec.substr(0, colon) + "'"};
    driver.set("type", enumByName(typeSchema, "log-driver", type));
    driver.set("path", text(path));
    driver.set("maxSize", maxSize);
  }
}

// Fills params.request from the parsed options. Throws UsageError for a bad value.
void buildRequest(const Invocation& inv, DynamicStruct::Builder params) {
  auto request = params.init("request").as<DynamicStruct>();
  StructSchema schema = request.getSchema();
  const Command& c = *inv.command;
  for (size_t k = 0; k < c.options.size(); k++) {
    const Option& o = c.options[k];
    const auto& vs = inv.values[k];
    if (vs.empty()) continue;
    StructSchema::Field field = schema.getFieldByName(o.field);
    switch (o.kind) {
      case Kind::Text: request.set(field, text(vs.back())); break;
      case Kind::Flag: request.set(field, true); break;
      case Kind::TextList: fillTextList(request, o.field, vs); break;
      case Kind::U16: request.set(field, parseUnsigned(o.name, vs.back(), UINT16_MAX)); break;
      case Kind::U64: request.set(field, parseUnsigned(o.name, vs.back(), UINT64_MAX)); break;
      case Kind::U64List: {
        auto list = request.init(field, vs.size()).as<DynamicList>();
        for (uint i = 0; i < vs.size(); i++) list.set(i, parseUnsigned(o.name, vs[i], UINT64_MAX));
        break;
      }
      case Kind::Enum: request.set(field, enumByName(field.getType().asEnum(), o.name, vs.back())); break;
      case Kind::EnumList: {
        auto enumSchema = field.getType().asList().getElementType().asEnum();
        auto list = request.init(field, vs.size()).as<DynamicList>();
        for (uint i = 0; i < vs.size(); i++) list.set(i, enumByName(enumSchema, o.name, vs[i]));
        break;
      }
      case Kind::Map: {
        std::vector<std::pair<std::string, std::string>> entries;
        for (auto& v : vs) entries.push_back(splitKeyValue(o.name, v));
        fillMap(request, o.field, entries);
        break;
      }
      case Kind::LogDriver: fillLogDrivers(request, o.field, vs); break;
    }
  }
  if (c.commandField != nullptr && inv.commandGiven) fillTextList(request, c.commandField, inv.commandWords);
  if (!inv.meta.empty()) {
    fillMap(request, "metadata", inv.meta);
    // conmon-rs v0.7.x: metadataOld is Data, and its Go client (with tracing on) puts the metadata
    // there as a JSON object too. In the v1.0 schema the field is Void and stays untouched.
    KJ_IF_MAYBE(old, schema.findFieldByName("metadataOld")) {
      if (old->getType().which() == capnp::schema::Type::DATA) {
        std::map<std::string, std::string> sorted;  // like a Go map: sorted keys, the last value wins
        for (auto& kv : inv.meta) sorted[kv.first] = kv.second;
        std::string json = "{";
        for (auto& kv : sorted) {
          if (json.size() > 1) json += ',';
          interop::appendJsonString(json, kj::ArrayPtr<const char>(kv.first.data(), kv.first.size()), true);
          json += ':';
          interop::appendJsonString(json, kj::ArrayPtr<const char>(kv.second.data(), kv.second.size()), true);
        }
        json += '}';
        request.set(*old, capnp::Data::Reader(reinterpret_cast<const kj::byte*>(json.data()), json.size()));
      }
    }
  }
}

// ---- the call -------------------------------------------------------------------------------

template <typename T>
kj::Promise<T> withTimeout(kj::Timer& timer, double seconds, kj::Promise<T>&& promise) {
  if (seconds <= 0) return kj::mv(promise);
  return timer.timeoutAfter(int64_t(seconds * 1e9) * kj::NANOSECONDS, kj::mv(promise));
}

// The clean close: the caller has dropped every capability and response, so the Finish and
// Release messages are queued; flush them, half-close, and give the server 500 ms to close its side.
void closeCleanly(capnp::TwoPartyClient& client, kj::AsyncIoStream& connection, kj::Timer& timer, kj::WaitScope& ws) {
  try {
    ws.poll();  // lets the RPC system send what dropping the references scheduled
    for (int ms = 0; ms < 500 && client.getCurrentQueueCount() > 0; ms++) {
      timer.afterDelay(1 * kj::MILLISECONDS).wait(ws);
    }
    connection.shutdownWrite();
    client.onDisconnect().exclusiveJoin(timer.afterDelay(500 * kj::MILLISECONDS)).wait(ws);
  } catch (const kj::Exception&) {
    // the connection is gone already: nothing left to close
  }
}

int run(const std::string& socketPath, const Invocation& inv) {
  const Command& c = *inv.command;
  capnp::InterfaceSchema conmonSchema = capnp::Schema::from<Conmon>();
  capnp::InterfaceSchema::Method method = conmonSchema.getMethodByName(c.method);

  // Build (and check) the params before connecting: a usage error never touches the socket.
  capnp::MallocMessageBuilder paramsMessage;
  auto params = paramsMessage.initRoot<DynamicStruct>(method.getParamType());
  try {
    buildRequest(inv, params);
  } catch (const UsageError& e) {
    return usageError(e.message);
  }
  if (inv.printRequest) printLine(stderr, interop::toJson(params.asReader()));
  DynamicStruct::Reader request = params.asReader().get("request").as<DynamicStruct>();

  auto io = kj::setupAsyncIo();
  kj::WaitScope& ws = io.waitScope;
  kj::Timer& timer = io.provider->getTimer();
  kj::Own<kj::AsyncIoStream> connection;
  try {
    auto address = io.provider->getNetwork().parseAddress(kj::str("unix:", socketPath.c_str())).wait(ws);
    connection = withTimeout(timer, inv.rpcTimeout, address->connect()).wait(ws);
  } catch (const kj::Exception& e) {
    return rpcError(e);
  }

  capnp::TwoPartyClient client(*connection);
  int status = 0;
  {
    // The call and its response live in the inner scopes below and go first (Finish), then
    // the capability at the end of this block (Release); closeCleanly() flushes both.
    auto conmon = client.bootstrap().castAs<capnp::DynamicCapability>(conmonSchema);
    try {
      if (c.stress) {
        withTimeout(timer, inv.rpcTimeout, conmon.whenResolved()).wait(ws);
        auto start = std::chrono::steady_clock::now();
        auto calls = kj::heapArrayBuilder<kj::Promise<void>>(inv.stressCalls);
        for (uint64_t i = 0; i < inv.stressCalls; i++) {
          auto call = conmon.newRequest(method);
          call.set("request", request);
          calls.add(call.send().ignoreResult());
        }
        withTimeout(timer, inv.rpcTimeout, kj::joinPromises(calls.finish())).wait(ws);
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        char line[96];
        snprintf(line, sizeof(line), "{\"calls\":%llu,\"seconds\":%.6f}", (unsigned long long)inv.stressCalls, seconds);
        printLine(stdout, line);
      } else {
        auto call = conmon.newRequest(method);
        call.set("request", request);
        auto response = withTimeout(timer, inv.rpcTimeout, kj::Promise<capnp::Response<DynamicStruct>>(call.send())).wait(ws);
        printLine(stdout, interop::toJson(response.get("response").as<DynamicStruct>()));
      }
    } catch (const kj::Exception& e) {
      status = rpcError(e);
    }
  }
  closeCleanly(client, *connection, timer, ws);
  return status;
}

std::string overview() {
  std::string s = "usage: conmon-rpc SOCK COMMAND [OPTIONS]\n";
  for (const Command& c : commands()) s += "  " + synopsisOf(c) + "\n";
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    fputs(overview().c_str(), stdout);
    return 0;
  }
  if (argc < 3) return usageError("conmon-rpc SOCK COMMAND [OPTIONS]");
  const Command* command = nullptr;
  for (const Command& c : commands())
    if (strcmp(c.name, argv[2]) == 0) command = &c;
  if (command == nullptr) return usageError(std::string("unknown command '") + argv[2] + "'");

  Invocation inv;
  try {
    inv = parseArgs(*command, argc - 3, argv + 3);
  } catch (const UsageError& e) {
    return usageError(e.message);
  }
  try {
    return run(argv[1], inv);
  } catch (const kj::Exception& e) {
    return rpcError(e);
  }
}
