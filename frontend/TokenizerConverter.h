// TokenizerConverter.h - Gemma 3 Hugging Face tokenizer.json -> SentencePiece.
//
// Some model distributions ship only the Hugging Face `tokenizer.json`. The
// runtime tokenizes with SentencePiece (SPEC §7), so this converts the BPE
// tokenizer.json into an equivalent SentencePiece model: the serialized
// `sentencepiece.ModelProto` that
// SentencePieceProcessor::LoadFromSerializedProto (or a `.model` file) takes.
// The protobuf is written by hand, so neither libsentencepiece nor libprotobuf
// is needed here.
//
// The result reproduces the Gemma 3 SentencePiece model piece for piece
// (ids, strings, scores, types) and with the same trainer and normalizer
// settings; see TokenizerConverter.cpp for how each field is derived.

#ifndef GEMMA_FRONTEND_TOKENIZERCONVERTER_H
#define GEMMA_FRONTEND_TOKENIZERCONVERTER_H

#include <string>

namespace gemma {

// Reads the tokenizer.json at `tokenizerJsonPath` and returns the serialized
// SentencePiece ModelProto. Throws gemma::Error (frontend/ModelConfig.h),
// naming the file and the offending field, when the file cannot be read, is
// not valid JSON, or describes something SentencePiece cannot represent (a
// non-BPE model, an unknown normalizer or pre-tokenizer, added tokens with
// lstrip/rstrip/single_word, ...).
std::string convertTokenizerJson(const std::string &tokenizerJsonPath);
// The same for the file's contents; `sourceName` names it in errors.
std::string convertTokenizerJsonText(const std::string &text,
                                     const std::string &sourceName);

} // namespace gemma

#endif // GEMMA_FRONTEND_TOKENIZERCONVERTER_H
