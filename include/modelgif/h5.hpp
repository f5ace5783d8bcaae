// Small RAII layer over the HDF5 C API. One Handle owns one hid_t; moving
// leaves an invalid id behind; the destructor never throws. Every call goes
// through check(), which turns a failure into a StoreError carrying HDF5's own
// error stack; HDF5's automatic error printing is silenced.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace modelgif::h5 {

class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  ~Handle() { reset(); }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset() noexcept;
  hid_t release() noexcept {
    const hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// Throw StoreError("HDF5: <what>: <HDF5 error stack>") when id/status < 0.
hid_t check(hid_t id, const std::string& what);
herr_t check_status(herr_t status, const std::string& what);

// Element types we store.
enum class Type { F64, F32, F16, I64, U8 };
hid_t native(Type t);  // memory/file type id (F16: a 2-byte IEEE half type owned by this module)

class File {
 public:
  // Create (truncate) or open a file. Handle is closed on destruction.
  static File create(const std::string& path);
  static File open(const std::string& path, bool writable = false);
  // Collective create through MPI-IO, with collective metadata operations.
  // Every rank of `comm` must make the same metadata calls (datasets, attributes).
  static File create_parallel(const std::string& path, MPI_Comm comm);
  hid_t id() const { return h_.get(); }
  // Data transfer property: collective MPI-IO for parallel files, else default.
  hid_t transfer() const { return dxpl_.valid() ? dxpl_.get() : H5P_DEFAULT; }
  bool parallel() const { return dxpl_.valid(); }
  const std::string& path() const { return path_; }
  void flush();
  void close();  // closes and reports errors (destructor swallows them)
  friend void write_file(const std::string& path, const std::function<void(hid_t file)>& fill);
  // Forgets the file without closing it (a parallel file whose other ranks are
  // elsewhere: closing would wait for them). The process is about to abort.
  void abandon() noexcept {
    h_.release();
    dxpl_.release();
  }

 private:
  Handle h_;
  Handle dxpl_;
  std::string path_;
};

// Writes a whole HDF5 file so that it appears complete or not at all
// (base/files.hpp): `fill` writes the content into the file at its temporary
// name, which is then closed, synced and renamed to `path`. A failure is an
// InputError naming `path` (with the system's reason, e.g. "No space left on
// device"), and no temporary is left behind.
void write_file(const std::string& path, const std::function<void(hid_t file)>& fill);

// Object existence, by absolute path ("/distance/cosine").
bool exists(hid_t loc, const std::string& path);
// Names of a group's direct members, in creation order where tracked, else name order.
std::vector<std::string> list(hid_t loc, const std::string& group);

// Datasets. Intermediate groups are created. `data` holds prod(dims) elements.
// In a parallel file every rank calls with the same dims; ranks with
// participate = false write nothing (collectively) and may pass nullptr.
void write(hid_t loc, const std::string& path, Type type, const std::vector<hsize_t>& dims, const void* data,
           hid_t dxpl = H5P_DEFAULT, bool participate = true);
void write_strings(hid_t loc, const std::string& path, const std::vector<std::string>& values, hid_t dxpl = H5P_DEFAULT,
                   bool participate = true);
// Create a chunked-or-contiguous dataset to be filled piecewise by write_slab.
void create_dataset(hid_t loc, const std::string& path, Type type, const std::vector<hsize_t>& dims);
// Write `data` (memory type `type`) into the box [offset, offset+count) of a
// dataset. A count with a zero extent writes nothing but takes part in a
// collective transfer.
void write_slab(hid_t loc, const std::string& path, Type type, const std::vector<hsize_t>& offset,
                const std::vector<hsize_t>& count, const void* data, hid_t dxpl = H5P_DEFAULT);

std::vector<hsize_t> dims(hid_t loc, const std::string& path);
std::vector<double> read_f64(hid_t loc, const std::string& path);
std::vector<float> read_f32(hid_t loc, const std::string& path);
// Reads a whole float dataset into `dst` (prod(dims) floats), without a copy.
void read_f32_into(hid_t loc, const std::string& path, float* dst);
std::vector<int64_t> read_i64(hid_t loc, const std::string& path);
// Reads the box [offset, offset+count) as float32.
std::vector<float> read_slab_f32(hid_t loc, const std::string& path, const std::vector<hsize_t>& offset,
                                 const std::vector<hsize_t>& count);
std::vector<std::string> read_strings(hid_t loc, const std::string& path);

// String and integer attributes on an object given by path ("/" for the file).
void set_attr(hid_t loc, const std::string& object, const std::string& name, const std::string& value);
void set_attr(hid_t loc, const std::string& object, const std::string& name, int64_t value);
std::string get_attr_string(hid_t loc, const std::string& object, const std::string& name);
int64_t get_attr_int(hid_t loc, const std::string& object, const std::string& name);
bool has_attr(hid_t loc, const std::string& object, const std::string& name);

std::string library_version();

}  // namespace modelgif::h5
