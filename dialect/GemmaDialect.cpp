//===- GemmaDialect.cpp - gemma dialect, attributes and types -------------===//

#include "dialect/GemmaDialect.h"
#include "dialect/GemmaOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::gemma;

#include "dialect/GemmaDialect.cpp.inc"
#include "dialect/GemmaEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/GemmaAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "dialect/GemmaTypes.cpp.inc"

void GemmaDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/GemmaAttrs.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialect/GemmaTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialect/GemmaOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Module attributes: each layer kind's RoPE
//===----------------------------------------------------------------------===//

// The layer kind of a function: that of the KV cache it takes, if any.
static std::optional<AttentionKind> layerKindOf(func::FuncOp fn) {
  for (Type type : fn.getArgumentTypes())
    if (auto cache = dyn_cast<KVCacheType>(type))
      return cache.getLayer().getKind();
  return std::nullopt;
}

LogicalResult GemmaDialect::verifyOperationAttribute(Operation *op,
                                                     NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == kMatmulInputsAttr) {
    auto type = dyn_cast<TypeAttr>(attr.getValue());
    if (!type || !(type.getValue().isBF16() || type.getValue().isF32()))
      return op->emitError()
             << "'" << name << "' must be bf16 or f32, got " << attr.getValue();
    if (!isa<ModuleOp>(op))
      return op->emitError() << "'" << name << "' belongs on the module";
    return success();
  }
  if (name == kPrefillChunkAttr || name == kMaxContextAttr) {
    auto value = dyn_cast<IntegerAttr>(attr.getValue());
    if (!value || value.getInt() <= 0)
      return op->emitError()
             << "'" << name << "' must be a positive integer, got "
             << attr.getValue();
    if (!isa<ModuleOp>(op))
      return op->emitError() << "'" << name << "' belongs on the module";
    return success();
  }
  if (name != kRopeLocalAttr && name != kRopeGlobalAttr)
    return success();
  auto rope = dyn_cast<RopeAttr>(attr.getValue());
  if (!rope)
    return op->emitError() << "'" << name << "' must be a #gemma.rope, got "
                           << attr.getValue();
  if (!isa<ModuleOp>(op))
    return op->emitError() << "'" << name << "' belongs on the module";
  if (name == kRopeLocalAttr && rope.getScaleValue() != 1.0)
    return op->emitError() << "local layers' RoPE is never scaled (SPEC §3), "
                              "got "
                           << rope;
  AttentionKind kind =
      name == kRopeLocalAttr ? AttentionKind::Local : AttentionKind::Global;
  WalkResult result = op->walk([&](func::FuncOp fn) {
    if (layerKindOf(fn) != kind)
      return WalkResult::advance();
    WalkResult inner = fn.walk([&](Operation *inner) {
      RopeAttr used;
      if (auto ropeOp = dyn_cast<RopeOp>(inner))
        used = ropeOp.getRope();
      else if (auto prologue = dyn_cast<AttentionPrologueOp>(inner))
        used = prologue.getRope();
      if (!used || used == rope)
        return WalkResult::advance();
      inner->emitOpError() << "in a " << stringifyAttentionKind(kind)
                           << " layer uses " << used << ", but the model's "
                           << stringifyAttentionKind(kind) << " layers use "
                           << name << " = " << rope;
      return WalkResult::interrupt();
    });
    return inner;
  });
  return failure(result.wasInterrupted());
}

//===----------------------------------------------------------------------===//
// Shared syntax: `local, window = W` | `global`
//===----------------------------------------------------------------------===//

static ParseResult parseAttentionKindAndWindow(AsmParser &parser,
                                               AttentionKind &kind,
                                               std::optional<int64_t> &window) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef keyword;
  if (parser.parseKeyword(&keyword))
    return failure();
  std::optional<AttentionKind> parsed = symbolizeAttentionKind(keyword);
  if (!parsed)
    return parser.emitError(loc, "expected 'local' or 'global', got '")
           << keyword << "'";
  kind = *parsed;
  window = std::nullopt;
  return success();
}

// Parses `window = W` after a comma: std::nullopt when the next keyword is
// not `window` (nothing consumed), failure after a diagnostic when it is but
// is malformed. The window is accepted for either kind so that the verifier,
// not the parser, explains why a global layer has none.
static OptionalParseResult parseOptionalWindow(AsmParser &parser,
                                               std::optional<int64_t> &window) {
  if (failed(parser.parseOptionalKeyword("window")))
    return std::nullopt;
  int64_t value = 0;
  if (parser.parseEqual() || parser.parseInteger(value))
    return failure();
  window = value;
  return success();
}

static void printAttentionKindAndWindow(AsmPrinter &printer, AttentionKind kind,
                                        std::optional<int64_t> window) {
  printer << stringifyAttentionKind(kind);
  if (window)
    printer << ", window = " << *window;
}

//===----------------------------------------------------------------------===//
// AttentionAttr
//===----------------------------------------------------------------------===//

Attribute AttentionAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  AttentionKind kind;
  std::optional<int64_t> window;
  if (parser.parseLess() || parseAttentionKindAndWindow(parser, kind, window))
    return {};
  if (succeeded(parser.parseOptionalComma())) {
    OptionalParseResult parsed = parseOptionalWindow(parser, window);
    if (!parsed.has_value()) {
      parser.emitError(parser.getCurrentLocation(),
                       "expected 'window = <int>'");
      return {};
    }
    if (failed(*parsed))
      return {};
  }
  if (parser.parseGreater())
    return {};
  return parser.getChecked<AttentionAttr>(loc, parser.getContext(), kind,
                                          window);
}

void AttentionAttr::print(AsmPrinter &printer) const {
  printer << '<';
  printAttentionKindAndWindow(printer, getKind(), getWindow());
  printer << '>';
}

LogicalResult
AttentionAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                      AttentionKind kind, std::optional<int64_t> window) {
  if (kind == AttentionKind::Local && !window)
    return emitError() << "local attention needs a window";
  if (kind == AttentionKind::Local && *window <= 0)
    return emitError() << "local attention needs a window > 0, got " << *window;
  if (kind == AttentionKind::Global && window)
    return emitError() << "global attention has no window, got " << *window;
  return success();
}

//===----------------------------------------------------------------------===//
// RopeAttr
//===----------------------------------------------------------------------===//

Attribute RopeAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  double base = 0, scale = 1.0;
  if (parser.parseLess() || parser.parseKeyword("base") ||
      parser.parseEqual() || parser.parseFloat(base))
    return {};
  if (succeeded(parser.parseOptionalComma()) &&
      (parser.parseKeyword("scale") || parser.parseEqual() ||
       parser.parseFloat(scale)))
    return {};
  if (parser.parseGreater())
    return {};
  return parser.getChecked<RopeAttr>(loc, parser.getContext(),
                                     llvm::APFloat(base), llvm::APFloat(scale));
}

void RopeAttr::print(AsmPrinter &printer) const {
  printer << "<base = ";
  printer.printFloat(getBase());
  if (getScaleValue() != 1.0) {
    printer << ", scale = ";
    printer.printFloat(getScale());
  }
  printer << '>';
}

LogicalResult RopeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               llvm::APFloat base, llvm::APFloat scale) {
  if (!(base.convertToDouble() > 1.0))
    return emitError() << "RoPE base must be > 1, got "
                       << base.convertToDouble();
  if (!(scale.convertToDouble() > 0.0))
    return emitError() << "RoPE scaling factor must be > 0, got "
                       << scale.convertToDouble();
  return success();
}

//===----------------------------------------------------------------------===//
// MaskAttr
//===----------------------------------------------------------------------===//

Attribute MaskAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef keyword;
  if (parser.parseLess() || parser.parseKeyword(&keyword))
    return {};
  std::optional<MaskKind> kind = symbolizeMaskKind(keyword);
  if (!kind) {
    parser.emitError(loc, "expected 'causal', 'sliding_window' or "
                          "'bidirectional', got '")
        << keyword << "'";
    return {};
  }
  // The window was once written here too; it is the cache type's now.
  if (succeeded(parser.parseOptionalEqual())) {
    parser.emitError(loc, "a mask states no window: a sliding_window mask "
                          "takes its layer's, from the KV cache type");
    return {};
  }
  bool imageGroups = false;
  if (succeeded(parser.parseOptionalComma())) {
    if (parser.parseKeyword("image_groups"))
      return {};
    imageGroups = true;
  }
  if (parser.parseGreater())
    return {};
  return parser.getChecked<MaskAttr>(loc, parser.getContext(), *kind,
                                     imageGroups);
}

void MaskAttr::print(AsmPrinter &printer) const {
  printer << '<' << stringifyMaskKind(getKind());
  if (getImageGroups())
    printer << ", image_groups";
  printer << '>';
}

LogicalResult MaskAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               MaskKind kind, bool imageGroups) {
  if (kind == MaskKind::Bidirectional && imageGroups)
    return emitError()
           << "image_groups refines a causal mask; a bidirectional mask "
              "already sees every key";
  return success();
}

//===----------------------------------------------------------------------===//
// KVCacheType
//===----------------------------------------------------------------------===//

Type KVCacheType::parse(AsmParser &parser) {
  SMLoc loc = parser.getCurrentLocation();
  AttentionKind kind;
  std::optional<int64_t> window;
  int64_t capacity = 0, kvHeads = 0, headDim = 0;
  Type elementType;
  if (parser.parseLess() || parseAttentionKindAndWindow(parser, kind, window) ||
      parser.parseComma())
    return {};
  OptionalParseResult parsedWindow = parseOptionalWindow(parser, window);
  if (parsedWindow.has_value() &&
      (failed(*parsedWindow) || parser.parseComma()))
    return {};
  if (parser.parseKeyword("capacity") || parser.parseEqual() ||
      parser.parseInteger(capacity) || parser.parseComma() ||
      parser.parseKeyword("kv_heads") || parser.parseEqual() ||
      parser.parseInteger(kvHeads) || parser.parseComma() ||
      parser.parseKeyword("head_dim") || parser.parseEqual() ||
      parser.parseInteger(headDim) || parser.parseComma() ||
      parser.parseType(elementType) || parser.parseGreater())
    return {};
  MLIRContext *ctx = parser.getContext();
  auto emitError = [&] { return parser.emitError(loc); };
  if (failed(AttentionAttr::verify(emitError, kind, window)))
    return {};
  return parser.getChecked<KVCacheType>(
      loc, ctx, AttentionAttr::get(ctx, kind, window), capacity, kvHeads,
      headDim, elementType);
}

void KVCacheType::print(AsmPrinter &printer) const {
  printer << '<';
  printAttentionKindAndWindow(printer, getLayer().getKind(),
                              getLayer().getWindow());
  printer << ", capacity = " << getCapacity() << ", kv_heads = " << getKvHeads()
          << ", head_dim = " << getHeadDim() << ", " << getElementType() << '>';
}

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  AttentionAttr layer, int64_t capacity,
                                  int64_t kvHeads, int64_t headDim,
                                  Type elementType) {
  if (capacity <= 0 || kvHeads <= 0 || headDim <= 0)
    return emitError() << "KV cache capacity, kv_heads and head_dim must be "
                          "> 0, got "
                       << capacity << ", " << kvHeads << ", " << headDim;
  if (headDim % 2 != 0)
    return emitError() << "KV cache head_dim must be even (keys are stored "
                          "after RoPE), got "
                       << headDim;
  if (!elementType.isBF16() && !elementType.isF16() && !elementType.isF32())
    return emitError() << "KV cache element type must be bf16, f16 or f32, "
                          "got "
                       << elementType;
  if (layer.isLocal() && capacity < *layer.getWindow())
    return emitError() << "a local KV cache holds at least its window: "
                          "capacity "
                       << capacity << " < window " << *layer.getWindow();
  return success();
}

int64_t KVCacheType::getSizeInBytes() const {
  return 2 * getCapacity() * getKvHeads() * getHeadDim() *
         static_cast<int64_t>(getElementType().getIntOrFloatBitWidth() / 8);
}
