// Tokenizer.cpp - text <-> token ids with the model's SentencePiece model.

#include "runtime/Tokenizer.h"

#include "runtime/ModelInfo.h"
#include "runtime/Payload.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace gemma {
namespace {

constexpr const char *kImageSoftToken = "<image_soft_token>";
// Split out of text before SentencePiece sees it (SPEC §7). The model knows
// the first four as user-defined pieces; <image_soft_token> is an added
// token beyond it.
constexpr const char *kTextSpecials[] = {"<start_of_turn>", "<end_of_turn>",
                                         "<start_of_image>", "<end_of_image>",
                                         kImageSoftToken};
// What SentencePiece decodes <unk> to.
constexpr const char *kUnknownSurface = " \xE2\x81\x87 ";
constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";     // "▁"
constexpr const char *kReplacementCharacter = "\xEF\xBF\xBD"; // U+FFFD

[[noreturn]] void fail(const std::string &what) {
  throw std::runtime_error("tokenizer: " + what);
}

// The length of the UTF-8 sequence a lead byte starts; 0 for a byte that
// cannot start one.
size_t sequenceLength(unsigned char lead) {
  if (lead < 0x80)
    return 1;
  if (lead >= 0xC2 && lead <= 0xDF)
    return 2;
  if (lead >= 0xE0 && lead <= 0xEF)
    return 3;
  if (lead >= 0xF0 && lead <= 0xF4)
    return 4;
  return 0;
}

// Whether `byte` may follow `lead` at index `index` (>= 1) of a sequence;
// the second byte's range excludes overlong forms, surrogates and code
// points past U+10FFFF.
bool validContinuation(unsigned char lead, size_t index, unsigned char byte) {
  if (index == 1) {
    if (lead == 0xE0)
      return byte >= 0xA0 && byte <= 0xBF;
    if (lead == 0xED)
      return byte >= 0x80 && byte <= 0x9F;
    if (lead == 0xF0)
      return byte >= 0x90 && byte <= 0xBF;
    if (lead == 0xF4)
      return byte >= 0x80 && byte <= 0x8F;
  }
  return byte >= 0x80 && byte <= 0xBF;
}

} // namespace

size_t utf8CharLength(std::string_view text, size_t at) {
  if (at >= text.size())
    return 0;
  auto lead = static_cast<unsigned char>(text[at]);
  size_t length = sequenceLength(lead);
  if (length == 0 || at + length > text.size())
    return 0;
  for (size_t i = 1; i < length; ++i)
    if (!validContinuation(lead, i, static_cast<unsigned char>(text[at + i])))
      return 0;
  return length;
}

size_t invalidUtf8Offset(std::string_view text) {
  for (size_t at = 0; at < text.size();) {
    size_t length = utf8CharLength(text, at);
    if (length == 0)
      return at;
    at += length;
  }
  return std::string_view::npos;
}

void checkUtf8(std::string_view text, const std::string &what) {
  size_t at = invalidUtf8Offset(text);
  if (at == std::string_view::npos)
    return;
  char byte[8];
  std::snprintf(byte, sizeof byte, "0x%02X",
                static_cast<unsigned char>(text[at]));
  throw std::runtime_error(what + " is not valid UTF-8: byte " + byte +
                           " at offset " + std::to_string(at));
}

const char *const kNoTokenizerMessage =
    "this executable has no tokenizer; compile a model directory with "
    "tokenizer.model or tokenizer.json, or pass --tokenizer";

Tokenizer::Tokenizer(std::string_view serializedModel,
                     const std::string &source)
    : processor(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  auto status = processor->LoadFromSerializedProto(serializedModel);
  if (!status.ok())
    throw std::runtime_error(source + ": not a SentencePiece model (" +
                             status.ToString() + ")");
  for (const char *name : kTextSpecials) {
    int32_t id = processor->PieceToId(name);
    if (processor->IdToPiece(id) == name) {
      specials.emplace_back(name, id);
    } else if (std::string_view(name) == kImageSoftToken) {
      // Gemma 3's tokenizer.json adds it right after the pieces.
      imageSoftTokenId = processor->GetPieceSize();
      specials.emplace_back(name, imageSoftTokenId);
    }
  }
  // Longest first, so that a name that prefixes another cannot shadow it.
  std::stable_sort(specials.begin(), specials.end(),
                   [](const auto &a, const auto &b) {
                     return a.first.size() > b.first.size();
                   });
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer &&) noexcept = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) noexcept = default;

std::unique_ptr<Tokenizer> Tokenizer::fromPayload(const MappedPayload &payload,
                                                  const ModelInfo &info) {
  if (!info.tokenizer)
    return nullptr;
  uint64_t offset = static_cast<uint64_t>(info.tokenizer->offset);
  uint64_t bytes = static_cast<uint64_t>(info.tokenizer->bytes);
  if (offset > payload.blobSize() || bytes > payload.blobSize() - offset)
    throw std::runtime_error(
        payload.path() + ": payload metadata places the tokenizer at bytes [" +
        std::to_string(offset) + ", " + std::to_string(offset + bytes) +
        ") of a " + std::to_string(payload.blobSize()) + "-byte blob");
  std::string_view serialized(
      reinterpret_cast<const char *>(payload.blob()) + offset, bytes);
  return std::make_unique<Tokenizer>(serialized,
                                     payload.path() + ": the packed tokenizer");
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  std::vector<int> pieceIds;
  auto encodePlain = [&](std::string_view plain) {
    if (plain.empty())
      return;
    auto status = processor->Encode(plain, &pieceIds);
    if (!status.ok())
      fail("cannot encode text: " + status.ToString());
    ids.insert(ids.end(), pieceIds.begin(), pieceIds.end());
  };

  size_t plainStart = 0;
  size_t at = text.find('<');
  while (at != std::string_view::npos) {
    auto special =
        std::find_if(specials.begin(), specials.end(), [&](const auto &entry) {
          return text.compare(at, entry.first.size(), entry.first) == 0;
        });
    if (special == specials.end()) {
      at = text.find('<', at + 1);
      continue;
    }
    encodePlain(text.substr(plainStart, at - plainStart));
    ids.push_back(special->second);
    plainStart = at + special->first.size();
    at = text.find('<', plainStart);
  }
  encodePlain(text.substr(plainStart));
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids) const {
  // SentencePiece decodes runs of its own ids (it joins byte pieces into
  // characters); added tokens and ids beyond the tokenizer break the runs.
  const int32_t pieces = processor->GetPieceSize();
  std::string text;
  std::vector<int> run;
  auto flushRun = [&] {
    if (run.empty())
      return;
    std::string part;
    auto status = processor->Decode(run, &part);
    if (!status.ok())
      fail("cannot decode ids: " + status.ToString());
    text += part;
    run.clear();
  };
  for (int32_t id : ids) {
    if (id >= 0 && id < pieces) {
      run.push_back(id);
      continue;
    }
    flushRun();
    text += pieceBytes(id);
  }
  flushRun();
  return text;
}

std::string Tokenizer::pieceBytes(int32_t id) const {
  if (id == imageSoftTokenId)
    return kImageSoftToken;
  if (id < 0 || id >= processor->GetPieceSize() || processor->IsControl(id))
    return "";
  if (processor->IsUnknown(id))
    return kUnknownSurface;
  std::string piece = processor->IdToPiece(id);
  if (processor->IsByte(id)) // "<0xNN>"
    return std::string(
        1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
  std::string text;
  for (size_t at = 0; at < piece.size();) {
    if (piece.compare(at, kSpaceSymbol.size(), kSpaceSymbol) == 0) {
      text += ' ';
      at += kSpaceSymbol.size();
    } else {
      text += piece[at++];
    }
  }
  return text;
}

int32_t Tokenizer::specialId(std::string_view name) const {
  for (const auto &[specialName, id] : specials)
    if (specialName == name)
      return id;
  int32_t id = processor->PieceToId(name);
  return processor->IdToPiece(id) == name ? id : -1;
}

int64_t Tokenizer::size() const {
  return processor->GetPieceSize() + (imageSoftTokenId >= 0 ? 1 : 0);
}

std::string StreamDecoder::push(int32_t id) {
  pending += tokenizer.pieceBytes(id);
  std::string ready;
  size_t at = 0;
  while (at < pending.size()) {
    auto lead = static_cast<unsigned char>(pending[at]);
    size_t length = sequenceLength(lead);
    if (length == 0) { // a byte that starts no character
      ready += kReplacementCharacter;
      ++at;
      continue;
    }
    size_t have = 1;
    while (have < length && at + have < pending.size() &&
           validContinuation(lead, have,
                             static_cast<unsigned char>(pending[at + have])))
      ++have;
    if (have == length) {
      ready.append(pending, at, length);
      at += length;
    } else if (at + have == pending.size()) {
      break; // the character may still be completed by the next id
    } else { // a broken sequence: SentencePiece marks its lead byte
      ready += kReplacementCharacter;
      ++at;
    }
  }
  pending.erase(0, at);
  return ready;
}

std::string StreamDecoder::finish() {
  std::string rest;
  for (size_t i = 0; i < pending.size(); ++i)
    rest += kReplacementCharacter;
  pending.clear();
  return rest;
}

} // namespace gemma
