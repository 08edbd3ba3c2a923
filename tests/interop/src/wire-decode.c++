// wire-decode C2S.bin S2C.bin OUTDIR
//
// Cuts the two recorded byte streams of one RPC connection (client-to-server, server-to-client;
// e.g. from wire-relay) at the frame boundaries of the standard stream framing and decodes every
// frame with the official library: as rpc.Message (Debian's capnp/rpc.capnp), and the params or
// results content of Conmon calls with the conmon schema this tool was built with. Writes
//   OUTDIR/frames.txt                "<dir> <NN> offset=O len=L segments=S sizes=A,B,... <label>"
//   OUTDIR/<dir>-<NN>-<label>.bin    the frame's bytes (segment table included)
//   OUTDIR/<dir>-<NN>-<label>.hex    the same in hex, one 8-byte word per line (xxd -r -p restores it)
//   OUTDIR/<dir>-<NN>-<label>.txt    segment table, the message in capnp text format, content as JSON
// Labels: bootstrap, call-<method>, return-<method> / return-bootstrap, return-exception-<method>,
// finish, release, abort, ... (the rpc.Message union member). Returns are matched to the
// questions of the other direction. Exit 0 when both streams are whole frames that decode, else 1.

#include "conmon.capnp.h"
#include "json.h"

#include <capnp/dynamic.h>
#include <capnp/pretty-print.h>
#include <capnp/rpc.capnp.h>
#include <capnp/serialize.h>
#include <kj/debug.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <sys/stat.h>

namespace {

struct Question {
  std::string label;                             // "bootstrap" or the method name
  kj::Maybe<capnp::InterfaceSchema::Method> method;  // set for Conmon calls
};

using QuestionTable = std::map<uint32_t, Question>;

std::vector<unsigned char> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

uint32_t u32le(const unsigned char* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24; }

std::string hexWords(const unsigned char* p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; i++) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
    s += i % 8 == 7 || i + 1 == n ? '\n' : ' ';
  }
  return s;
}

// Only the method name of a Conmon call: interface id and method ordinal.
kj::Maybe<capnp::InterfaceSchema::Method> conmonMethod(uint64_t interfaceId, uint16_t methodId) {
  capnp::InterfaceSchema conmon = capnp::Schema::from<Conmon>();
  if (interfaceId != conmon.getProto().getId() || methodId >= conmon.getMethods().size()) return nullptr;
  return conmon.getMethods()[methodId];
}

struct Decoder {
  std::string outDir;
  std::ofstream frames;
  QuestionTable questions[2];  // questions asked by c2s (answered in s2c), and by s2c
  bool ok = true;

  // Decodes one direction; returns false if the stream did not end on a frame boundary.
  void stream(int dir, const std::vector<unsigned char>& bytes) {
    const char* name = dir == 0 ? "c2s" : "s2c";
    size_t offset = 0;
    for (int index = 0; offset < bytes.size(); index++) {
      size_t left = bytes.size() - offset;
      const unsigned char* p = bytes.data() + offset;
      std::string problem;
      size_t headerBytes = 0, frameBytes = 0;
      std::vector<uint32_t> sizes;
      if (left < 8) {
        problem = "stream ends inside a segment table";
      } else {
        uint32_t count = u32le(p) + 1;
        headerBytes = (4 * (1 + size_t(count)) + 7) & ~size_t(7);
        if (count == 0 || count > 512) {
          problem = "segment count " + std::to_string(uint64_t(u32le(p)) + 1) + " is not plausible";
        } else if (left < headerBytes) {
          problem = "stream ends inside a segment table";
        } else {
          uint64_t words = 0;
          for (uint32_t i = 0; i < count; i++) {
            sizes.push_back(u32le(p + 4 + 4 * i));
            words += sizes.back();
          }
          frameBytes = headerBytes + 8 * words;
          if (left < frameBytes)
            problem = "stream ends inside a frame of " + std::to_string(frameBytes) + " bytes (" +
                      std::to_string(left) + " left)";
        }
      }
      if (!problem.empty()) {
        printf("%s: %s at offset %zu; %zu trailing bytes not decoded\n", name, problem.c_str(), offset, left);
        ok = false;
        return;
      }
      frame(dir, index, offset, p, headerBytes, frameBytes, sizes);
      offset += frameBytes;
    }
  }

  void frame(int dir, int index, size_t offset, const unsigned char* p, size_t headerBytes, size_t frameBytes,
             const std::vector<uint32_t>& sizes) {
    const char* name = dir == 0 ? "c2s" : "s2c";
    std::ostringstream txt;
    std::string sizeList, sizeWords;
    uint64_t words = 0;
    for (uint32_t s : sizes) {
      sizeList += (sizeList.empty() ? "" : ",") + std::to_string(s);
      sizeWords += " " + std::to_string(s);
      words += s;
    }
    size_t padding = headerBytes - 4 * (1 + sizes.size());
    txt << "direction: " << name << "  frame #" << index << "  stream offset " << offset << "  length " << frameBytes
        << " bytes\n"
        << "segment table: segmentCount-1 = " << sizes.size() - 1 << " (u32 LE), sizes in words =" << sizeWords
        << "; header " << 4 * (1 + sizes.size()) << " bytes + " << padding << " bytes padding = " << headerBytes
        << " bytes\n"
        << "segments: " << words << " words = " << words * 8 << " bytes\n\n";

    std::string label = "unknown";
    kj::Array<capnp::word> aligned = kj::heapArray<capnp::word>(frameBytes / 8);
    memcpy(aligned.begin(), p, frameBytes);
    KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() { label = decode(dir, aligned, txt); })) {
      txt << "decode error: " << e->getDescription().cStr() << "\n";
      ok = false;
    }

    char stem[64];
    snprintf(stem, sizeof(stem), "%s-%02d-", name, index);
    std::string base = outDir + "/" + stem + label;
    writeFile(base + ".bin", std::string(reinterpret_cast<const char*>(p), frameBytes));
    writeFile(base + ".hex", hexWords(p, frameBytes));
    writeFile(base + ".txt", txt.str());
    char line[256];
    snprintf(line, sizeof(line), "%s %02d offset=%zu len=%zu segments=%zu sizes=%s ", name, index, offset, frameBytes,
             sizes.size(), sizeList.c_str());
    frames << line << label << "\n";
    printf("%s%s\n", line, label.c_str());
  }

  // Decodes one frame into txt; returns its label.
  std::string decode(int dir, kj::ArrayPtr<const capnp::word> words, std::ostringstream& txt) {
    capnp::FlatArrayMessageReader reader(words);
    auto message = reader.getRoot<capnp::rpc::Message>();
    txt << "rpc.Message (capnp text format):\n" << capnp::prettyPrint(message).flatten().cStr() << "\n";

    switch (message.which()) {
      case capnp::rpc::Message::BOOTSTRAP:
        questions[dir][message.getBootstrap().getQuestionId()] = {"bootstrap", nullptr};
        return "bootstrap";
      case capnp::rpc::Message::CALL: {
        auto call = message.getCall();
        KJ_IF_MAYBE(method, conmonMethod(call.getInterfaceId(), call.getMethodId())) {
          std::string methodName = method->getProto().getName().cStr();
          questions[dir][call.getQuestionId()] = {methodName, *method};
          txt << "\nparams.content (as " << methodName << " params, JSON):\n"
              << content(call.getParams().getContent(), method->getParamType()) << "\n";
          return "call-" + methodName;
        }
        questions[dir][call.getQuestionId()] = {"unknown", nullptr};
        return "call";
      }
      case capnp::rpc::Message::RETURN: {
        auto ret = message.getReturn();
        const QuestionTable& asked = questions[1 - dir];
        auto q = asked.find(ret.getAnswerId());
        std::string suffix = q == asked.end() ? "" : "-" + q->second.label;
        switch (ret.which()) {
          case capnp::rpc::Return::RESULTS: {
            auto c = ret.getResults().getContent();
            if (c.getPointerType() == capnp::PointerType::CAPABILITY) {
              txt << "\nresults.content (JSON):\n\"<capability pointer>\"\n";
            } else if (q != asked.end()) {
              KJ_IF_MAYBE(method, q->second.method) {
                txt << "\nresults.content (JSON):\n" << content(c, method->getResultType()) << "\n";
              }
            }
            return "return" + suffix;
          }
          case capnp::rpc::Return::EXCEPTION:
            return "return-exception" + suffix;
          default:
            return "return-" + unionName(capnp::toDynamic(ret)) + suffix;
        }
      }
      default:
        return unionName(capnp::toDynamic(message));
    }
  }

  static std::string content(capnp::AnyPointer::Reader pointer, capnp::StructSchema schema) {
    return interop::toJson(pointer.getAs<capnp::DynamicStruct>(schema));
  }

  static std::string unionName(capnp::DynamicStruct::Reader s) {
    KJ_IF_MAYBE(field, s.which()) { return field->getProto().getName().cStr(); }
    return "unknown";
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: wire-decode C2S.bin S2C.bin OUTDIR\n");
    return 2;
  }
  try {
    auto c2s = readFile(argv[1]);
    auto s2c = readFile(argv[2]);
    std::string outDir = argv[3];
    if (mkdir(outDir.c_str(), 0755) < 0 && errno != EEXIST) throw std::runtime_error("cannot create " + outDir);
    Decoder d;
    d.outDir = outDir;
    d.frames.open(outDir + "/frames.txt");
    if (!d.frames) throw std::runtime_error("cannot write " + outDir + "/frames.txt");
    d.stream(0, c2s);
    d.stream(1, s2c);
    d.frames.close();
    return d.ok ? 0 : 1;
  } catch (const std::exception& e) {
    fprintf(stderr, "wire-decode: %s\n", e.what());
    return 1;
  }
}
