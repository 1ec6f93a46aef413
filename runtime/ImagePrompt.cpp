// ImagePrompt.cpp - images in prompts.

#include "runtime/ImagePrompt.h"

#include <stdexcept>

namespace gemma {
namespace {

size_t countMarkers(const std::string &text) {
  size_t count = 0;
  for (size_t at = text.find(kImageMarker); at != std::string::npos;
       at = text.find(kImageMarker, at + 1))
    ++count;
  return count;
}

} // namespace

int64_t PromptImages::pixelSets() const {
  int64_t sets = 0;
  for (const auto &image : pixels)
    sets += static_cast<int64_t>(image.size());
  return sets;
}

PromptImages
loadPromptImages(const std::vector<std::string> &paths, const ModelInfo &info,
                 const std::optional<PanAndScanOptions> &panAndScan) {
  if (!info.vision)
    throw std::runtime_error(paths.front() +
                             ": this model is text-only; it cannot take "
                             "images");
  PromptImages images;
  images.vision = *info.vision;
  const int size = static_cast<int>(info.vision->imageSize);
  const size_t per = static_cast<size_t>(3 * size * size);
  for (const std::string &path : paths) {
    RgbImage image = loadImage(path);
    std::vector<float> all =
        panAndScan ? preprocessPanAndScan(image, size, *panAndScan)
                   : preprocessImage(image, size);
    std::vector<std::vector<float>> sets;
    for (size_t at = 0; at < all.size(); at += per)
      sets.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(at),
                        all.begin() + static_cast<std::ptrdiff_t>(at + per));
    images.paths.push_back(path);
    images.pixels.push_back(std::move(sets));
  }
  return images;
}

std::string placeImageMarkers(const std::string &text,
                              const PromptImages &images) {
  size_t markers = countMarkers(text);
  if (markers == 0) {
    std::string placed;
    for (size_t i = 0; i < images.paths.size(); ++i)
      placed += kImageMarker;
    return placed + text;
  }
  if (markers != images.paths.size())
    throw std::runtime_error(
        "the prompt has " + std::to_string(markers) + " " + kImageMarker +
        " marker(s) but " + std::to_string(images.paths.size()) +
        " image(s) were given (" + images.paths.front() +
        (images.paths.size() > 1 ? ", ..." : "") +
        "): put one marker where each image goes, or none to put them all "
        "before the text");
  return text;
}

std::string expandImageMarkers(const std::string &text,
                               const PromptImages &images) {
  const std::string marker = kImageMarker;
  const std::string expanded = "\n\n<start_of_image><end_of_image>\n\n";
  std::string out;
  size_t from = 0, image = 0;
  for (size_t at = text.find(marker); at != std::string::npos;
       at = text.find(marker, from)) {
    out += text.substr(from, at - from);
    size_t crops =
        image < images.pixels.size() ? images.pixels[image].size() - 1 : 0;
    if (crops > 0) {
      out += "Here is the original image " + expanded +
             " and here are some crops to help you see better ";
      for (size_t c = 0; c < crops; ++c)
        out += (c ? " " : "") + expanded;
    } else {
      out += expanded;
    }
    from = at + marker.size();
    ++image;
  }
  return out + text.substr(from);
}

std::vector<int32_t> insertSoftTokens(const std::vector<int32_t> &ids,
                                      const ModelInfo::VisionInfo &vision) {
  std::vector<int32_t> out;
  out.reserve(ids.size());
  for (int32_t id : ids) {
    out.push_back(id);
    if (id == vision.boiTokenId)
      out.insert(out.end(), static_cast<size_t>(vision.mmTokensPerImage),
                 vision.imageTokenId);
  }
  return out;
}

std::vector<float>
encodeImages(Model &model, const std::vector<std::vector<float>> &pixelSets) {
  std::vector<float> features;
  for (const std::vector<float> &pixels : pixelSets) {
    std::vector<float> one = model.encodeImage(pixels);
    features.insert(features.end(), one.begin(), one.end());
  }
  return features;
}

std::vector<float> encodePromptImages(Model &model,
                                      const PromptImages &images) {
  std::vector<float> features;
  for (const auto &image : images.pixels) {
    std::vector<float> some = encodeImages(model, image);
    features.insert(features.end(), some.begin(), some.end());
  }
  return features;
}

} // namespace gemma
