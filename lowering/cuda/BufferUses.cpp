//===- BufferUses.cpp - a buffer's uses, through its views ----------------===//

#include "lowering/cuda/BufferUses.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::gemma::cuda {

Value rootBuffer(Value buffer) {
  while (Operation *def = buffer.getDefiningOp()) {
    if (auto view = dyn_cast<ViewLikeOpInterface>(def))
      buffer = view.getViewSource();
    else if (auto toBuffer = dyn_cast<bufferization::ToBufferOp>(def))
      buffer = toBuffer.getTensor();
    else if (auto toTensor = dyn_cast<bufferization::ToTensorOp>(def))
      buffer = toTensor.getBuffer();
    else
      break;
  }
  return buffer;
}

SmallVector<BufferUse> usesThroughViews(Value buffer, Block *block) {
  SmallVector<BufferUse> uses;
  for (Operation *user : buffer.getUsers()) {
    if (auto view = dyn_cast<ViewLikeOpInterface>(user);
        view && view.getViewSource() == buffer) {
      for (Value result : user->getResults())
        uses.append(usesThroughViews(result, block));
      continue;
    }
    uses.push_back({user, block->findAncestorOpInBlock(*user)});
  }
  return uses;
}

bool isBookkeeping(Operation *user) {
  if (isa<memref::DeallocOp, memref::ExtractAlignedPointerAsIndexOp>(user))
    return true;
  auto metadata = dyn_cast<memref::ExtractStridedMetadataOp>(user);
  return metadata &&
         llvm::all_of(metadata.getBaseBuffer().getUsers(), [](Operation *u) {
           return isa<memref::DeallocOp,
                      memref::ExtractAlignedPointerAsIndexOp>(u);
         });
}

bool onlyFreedBesides(Value buffer, ArrayRef<Operation *> except) {
  return llvm::all_of(buffer.getUsers(), [&](Operation *user) {
    return llvm::is_contained(except, user) || isBookkeeping(user);
  });
}

} // namespace mlir::gemma::cuda
