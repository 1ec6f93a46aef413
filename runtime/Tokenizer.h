// Tokenizer.h - text <-> token ids with the model's SentencePiece model.
//
// The compiler packs the serialized SentencePiece model into the weight
// blob (metadata "tokenizer_offset"/"tokenizer_bytes"); the executable
// loads it from there, so it needs no file beside it. SentencePiece's header
// stays out of this one: only Tokenizer.cpp sees it.

#ifndef GEMMA_RUNTIME_TOKENIZER_H
#define GEMMA_RUNTIME_TOKENIZER_H

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
} // namespace sentencepiece

namespace gemma {

class MappedPayload;
struct ModelInfo;

// What a run needing a tokenizer says when the executable has none.
extern const char *const kNoTokenizerMessage;

class Tokenizer {
public:
  // Throws std::runtime_error naming `source` when `serializedModel` is not
  // a SentencePiece model.
  Tokenizer(std::string_view serializedModel, const std::string &source);
  ~Tokenizer();
  Tokenizer(Tokenizer &&) noexcept;
  Tokenizer &operator=(Tokenizer &&) noexcept;

  // The tokenizer packed in an executable's blob, or null when it has none.
  // Throws when the metadata places it outside the blob.
  static std::unique_ptr<Tokenizer> fromPayload(const MappedPayload &payload,
                                                const ModelInfo &info);

  // The ids of `text`, without <bos>. The special tokens of SPEC §7
  // (<start_of_turn>, <end_of_turn>, <start_of_image>, <end_of_image>,
  // <image_soft_token>) written in the text become their single ids, as
  // Hugging Face's added tokens do: the text is split around them and only
  // the pieces between go through SentencePiece. Control tokens (<bos>,
  // <eos>, <pad>) are never produced from text: "<bos>" is added as an id by
  // whoever builds a sequence, exactly once.
  std::vector<int32_t> encode(std::string_view text) const;
  // The text of `ids`: control tokens vanish, byte-fallback pieces become
  // their bytes, special tokens their names.
  std::string decode(const std::vector<int32_t> &ids) const;

  // The bytes one id stands for in decoded text: "▁" as a space, a byte
  // piece <0xNN> as that single byte, "" for control tokens and for ids
  // beyond the tokenizer. Concatenated, possibly splitting UTF-8 characters
  // between ids (see StreamDecoder).
  std::string pieceBytes(int32_t id) const;

  // The id of a special token by name ("<end_of_turn>"), or -1.
  int32_t specialId(std::string_view name) const;
  // Ids the tokenizer knows: the SentencePiece pieces plus added tokens.
  int64_t size() const;

private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor;
  // Special tokens recognised in text, longest first, and their ids.
  std::vector<std::pair<std::string, int32_t>> specials;
  // <image_soft_token>: beyond the SentencePiece model in Gemma 3 (id =
  // number of pieces); -1 when the model itself has the piece.
  int32_t imageSoftTokenId = -1;
};

// The length of the UTF-8 character starting at text[at], or 0 when the
// bytes there are not one (RFC 3629: no overlong forms, surrogates or code
// points past U+10FFFF; a sequence cut by the end of `text` is invalid).
size_t utf8CharLength(std::string_view text, size_t at);
// Where `text` stops being valid UTF-8, or std::string_view::npos.
size_t invalidUtf8Offset(std::string_view text);
// Throws std::runtime_error "<what> is not valid UTF-8: byte 0xFF at offset
// N" unless `text` is valid UTF-8. Text goes through this before the
// tokenizer, which would otherwise turn bad bytes into other characters.
void checkUtf8(std::string_view text, const std::string &what);

// Turns ids arriving one at a time into text that can be printed at once: a
// character whose UTF-8 bytes span several ids (byte-fallback pieces) is
// held back until it is complete. What it returns, concatenated, equals
// Tokenizer::decode of all the ids for valid UTF-8.
class StreamDecoder {
public:
  explicit StreamDecoder(const Tokenizer &tokenizer) : tokenizer(tokenizer) {}
  // The text completed by `id` (possibly empty).
  std::string push(int32_t id);
  // Bytes still held back, each as U+FFFD (an unfinished character at the
  // end of the output); clears them.
  std::string finish();

private:
  const Tokenizer &tokenizer;
  std::string pending; // the start of an unfinished UTF-8 character
};

} // namespace gemma

#endif // GEMMA_RUNTIME_TOKENIZER_H
