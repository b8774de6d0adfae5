"""MAGI-1 (Sand AI): its checkpoint layout, a CPU-exportable DiT with upstream parameter names, the export."""
