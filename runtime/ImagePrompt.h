// ImagePrompt.h - images in prompts: the files preprocessed for the vision
// tower, the text that announces them and the soft tokens that take their
// features.
//
// As Hugging Face's Gemma3Processor does it (SPEC §5, §6): every
// <start_of_image> of the (templated) prompt stands for one image, in
// order; with Pan & Scan an image that gets crops is announced as "Here is
// the original image <start_of_image> and here are some crops to help you
// see better <start_of_image> <start_of_image> ..." (one per crop); then
// each <start_of_image> becomes "\n\n<start_of_image>", mm_tokens_per_image
// <image_soft_token>s and "<end_of_image>\n\n". The soft token lies beyond
// the SentencePiece model, so the text is tokenized with the start and end
// markers only and the soft tokens are inserted as ids between them.

#ifndef GEMMA_RUNTIME_IMAGEPROMPT_H
#define GEMMA_RUNTIME_IMAGEPROMPT_H

#include "runtime/Image.h"
#include "runtime/Model.h"
#include "runtime/ModelInfo.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gemma {

// The marker a prompt's text places an image with.
inline constexpr char kImageMarker[] = "<start_of_image>";

// The images of one prompt, preprocessed for a model's vision tower.
struct PromptImages {
  ModelInfo::VisionInfo vision;
  std::vector<std::string> paths;
  // Per image: the whole image's pixel values first, then its Pan & Scan
  // crops', each float [3, S, S].
  std::vector<std::vector<std::vector<float>>> pixels;

  bool empty() const { return paths.empty(); }
  void clear() {
    paths.clear();
    pixels.clear();
  }
  // The pixel sets of all images, in prompt order: what the soft tokens
  // take.
  int64_t pixelSets() const;
};

// Loads and preprocesses `paths` (loadImage, then preprocessImage or, with
// `panAndScan`, preprocessPanAndScan) for a model of `info`. Throws
// std::runtime_error naming the file, or saying the model is text-only.
PromptImages
loadPromptImages(const std::vector<std::string> &paths, const ModelInfo &info,
                 const std::optional<PanAndScanOptions> &panAndScan);

// `text` with one marker per image in front when it has none (where the
// chat template puts an image given before the text). Throws
// std::runtime_error when it has markers but not one per image.
std::string placeImageMarkers(const std::string &text,
                              const PromptImages &images);

// The (templated) text with each image's marker announced and expanded as
// the processor does, the soft tokens left out. `text` must hold exactly
// one marker per image (placeImageMarkers).
std::string expandImageMarkers(const std::string &text,
                               const PromptImages &images);

// `ids` with mm_tokens_per_image soft tokens after each <start_of_image>.
std::vector<int32_t> insertSoftTokens(const std::vector<int32_t> &ids,
                                      const ModelInfo::VisionInfo &vision);

// The features of each pixel set [3, S, S] of `pixelSets`, back to back
// ([sets * mm_tokens_per_image, hidden]): what Model::prefill's
// imageFeatures takes.
std::vector<float>
encodeImages(Model &model, const std::vector<std::vector<float>> &pixelSets);

// The same for every pixel set of `images`, in prompt order.
std::vector<float> encodePromptImages(Model &model, const PromptImages &images);

} // namespace gemma

#endif // GEMMA_RUNTIME_IMAGEPROMPT_H
