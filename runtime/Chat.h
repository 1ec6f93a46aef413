// Chat.h - the Gemma 3 chat template and a conversation kept in the caches.
//
// The template (SPEC §7), as the published Jinja template renders it:
//
//   <bos><start_of_turn>user\n{system}\n\n{user}<end_of_turn>\n
//   <start_of_turn>model\n{reply}<end_of_turn>\n
//   <start_of_turn>user\n{user}<end_of_turn>\n<start_of_turn>model\n
//
// Roles alternate user/model starting with user, the system text goes into
// the first user turn, and message contents are trimmed of surrounding
// whitespace (the template's `| trim`, i.e. Python's str.strip(): every
// Unicode whitespace character, a no-break space too). The system text is
// not trimmed: the template puts it in front of the trimmed first user
// content as it is. <bos> is
// added as an id; the rest is text tokenized with special tokens split out.

#ifndef GEMMA_RUNTIME_CHAT_H
#define GEMMA_RUNTIME_CHAT_H

#include "runtime/Generator.h"
#include "runtime/ImagePrompt.h"
#include "runtime/Model.h"
#include "runtime/Tokenizer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gemma {

struct ChatMessage {
  // "user", "model" ("assistant" is Hugging Face's name for it), or
  // "system" as the first message only.
  std::string role;
  std::string content;
};

// The template's text without <bos>; with addGenerationPrompt it ends with
// the opening of the model's turn. Throws std::invalid_argument when the
// roles do not alternate user/model starting with user (after an optional
// system message), as the template does.
std::string renderChatText(const std::vector<ChatMessage> &messages,
                           bool addGenerationPrompt);
// <bos> followed by the ids of renderChatText().
std::vector<int32_t> renderChatIds(const Tokenizer &tokenizer, int32_t bosId,
                                   const std::vector<ChatMessage> &messages,
                                   bool addGenerationPrompt);

// A conversation as template ids, grown a turn at a time. The model's
// replies go in as the ids it generated (not re-tokenized text), since
// those are what its caches hold.
class Conversation {
public:
  Conversation(const Tokenizer &tokenizer, int32_t bosId, std::string system);

  // What a user turn adds: <bos> if the conversation is empty, the user
  // turn (with the system text if it is the first) and the opening of the
  // model's turn.
  // With `images`, the turn carries them: placed by their markers in `text`
  // (or before it) and expanded with their soft tokens (ImagePrompt.h).
  std::vector<int32_t> userTurnIds(const std::string &text,
                                   const PromptImages *images = nullptr) const;
  void addUserTurn(const std::string &text,
                   const PromptImages *images = nullptr);
  // The model's reply, without the stop token, followed by the
  // <end_of_turn> "\n" that close its turn.
  void addModelReply(const std::vector<int32_t> &replyIds);

  // The whole conversation, as renderChatIds() would give it.
  const std::vector<int32_t> &ids() const { return allIds; }
  bool empty() const { return allIds.empty(); }
  // Forgets every turn; the system text stays.
  void clear() { allIds.clear(); }

private:
  const Tokenizer &tokenizer;
  int32_t bosId;
  std::string system;
  std::vector<int32_t> allIds;
};

// A multi-turn chat whose Model caches hold the earlier turns: invariant,
// the caches hold conversation().ids()[0 .. model.position()). A new turn
// prefills only the ids past that: the tokens that closed the last reply
// (not fed back yet) and the new user turn.
class ChatSession {
public:
  // `model` should be at position 0 (or hold exactly `conversation`).
  ChatSession(Model &model, Generator &generator, Conversation &conversation);

  // The ids the next turn with `text` would prefill.
  std::vector<int32_t> pendingIds(const std::string &text,
                                  const PromptImages *images = nullptr) const;
  // Why a turn with `text` and `options.maxTokens` does not fit behind the
  // conversation so far (see contextProblem); empty when it does.
  std::string problem(const std::string &text, const GenerationOptions &options,
                      const PromptImages *images = nullptr) const;
  // Adds the user's turn and generates the reply (which goes into the
  // conversation). Throws ContextOverflow, leaving everything as it was,
  // when problem() is not empty.
  // With `images`, the turn carries them and `imageFeatures` holds their
  // features (encodePromptImages).
  GenerationResult send(const std::string &text,
                        const GenerationOptions &options,
                        const Generator::TokenCallback &onToken = {},
                        const PromptImages *images = nullptr,
                        const std::vector<float> *imageFeatures = nullptr);
  // A fresh conversation (same system text) at position 0.
  void restart();

  const Conversation &conversation() const { return chat; }

private:
  Model &model;
  Generator &generator;
  Conversation &chat;
};

} // namespace gemma

#endif // GEMMA_RUNTIME_CHAT_H
