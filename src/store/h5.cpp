#include "modelgif/h5.hpp"

#include <H5Epublic.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "base/files.hpp"
#include "modelgif/error.hpp"

namespace modelgif::h5 {
namespace {

// HDF5 prints its error stack to stderr by default; we turn failures into
// exceptions with our own message instead. Done once, before the first call.
struct Silencer {
  Silencer() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
void silence() { static Silencer s; }

struct Stack {
  std::string top;     // the first descriptions: what HDF5 was doing
  std::string system;  // the operating system's reason, when HDF5 names one
};

herr_t collect(unsigned n, const H5E_error2_t* e, void* out) {
  auto* s = static_cast<Stack*>(out);
  const std::string desc = e->desc ? e->desc : "?";
  const auto at = desc.find("error message = '");
  if (at != std::string::npos && s->system.empty()) {
    const auto from = at + 17, to = desc.find('\'', from);
    s->system = desc.substr(from, to == std::string::npos ? std::string::npos : to - from);
  }
  if (n > 2) return 0;  // the top of the stack says enough
  if (!s->top.empty()) s->top.append("; ");
  s->top.append(desc);
  return 0;
}

// One line: the system's reason first ("No space left on device"), then HDF5's own words.
std::string error_stack() {
  Stack s;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, &s);
  H5Eclear2(H5E_DEFAULT);
  std::string text = s.top.empty() ? "unknown HDF5 error" : s.top;
  if (!s.system.empty()) text = s.system + " (" + text + ")";
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

// An object as "FILE:/object" (or the object alone where HDF5 cannot tell the
// file): every error of a function given a location names its file, so that
// no caller has to catch and rethrow to add it.
std::string at(hid_t loc, const std::string& object) {
  const ssize_t len = H5Fget_name(loc, nullptr, 0);
  if (len <= 0) return object;
  std::string file(static_cast<size_t>(len) + 1, '\0');
  H5Fget_name(loc, file.data(), file.size());
  file.resize(static_cast<size_t>(len));
  return file + ":" + object;
}

Handle lcpl() {
  Handle p(check(H5Pcreate(H5P_LINK_CREATE), "creating a link property list"));
  check_status(H5Pset_create_intermediate_group(p.get(), 1), "setting intermediate group creation");
  return p;
}

Handle open_dataset(hid_t loc, const std::string& path) {
  return Handle(check(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), "opening dataset " + at(loc, path)));
}

Handle string_type() {
  Handle t(check(H5Tcopy(H5T_C_S1), "copying the string type"));
  check_status(H5Tset_size(t.get(), H5T_VARIABLE), "making a variable-length string type");
  check_status(H5Tset_cset(t.get(), H5T_CSET_UTF8), "setting UTF-8 strings");
  return t;
}

// Fixed-length UTF-8 strings: parallel HDF5 cannot write variable-length data.
Handle fixed_string_type(size_t len) {
  Handle t(check(H5Tcopy(H5T_C_S1), "copying the string type"));
  check_status(H5Tset_size(t.get(), std::max<size_t>(len, 1)), "sizing a string type");
  check_status(H5Tset_strpad(t.get(), H5T_STR_NULLPAD), "setting string padding");
  check_status(H5Tset_cset(t.get(), H5T_CSET_UTF8), "setting UTF-8 strings");
  return t;
}

Handle simple_space(const std::vector<hsize_t>& d) {
  return Handle(check(H5Screate_simple(static_cast<int>(d.size()), d.data(), nullptr), "creating a dataspace"));
}

template <typename T>
std::vector<T> read_as(hid_t loc, const std::string& path, hid_t mem) {
  Handle ds = open_dataset(loc, path);
  hsize_t n = 1;
  for (auto d : dims(loc, path)) n *= d;
  std::vector<T> v(static_cast<size_t>(n));
  check_status(H5Dread(ds.get(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "reading dataset " + at(loc, path));
  return v;
}

Handle open_object(hid_t loc, const std::string& object) {
  return Handle(check(H5Oopen(loc, object.c_str(), H5P_DEFAULT), "opening object " + at(loc, object)));
}

}  // namespace

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() noexcept {
  if (id_ >= 0 && H5Iis_valid(id_) > 0) H5Idec_ref(id_);
  id_ = H5I_INVALID_HID;
}

hid_t check(hid_t id, const std::string& what) {
  if (id < 0) throw StoreError("HDF5: " + what + ": " + error_stack());
  return id;
}

herr_t check_status(herr_t status, const std::string& what) {
  if (status < 0) throw StoreError("HDF5: " + what + ": " + error_stack());
  return status;
}

hid_t native(Type t) {
  silence();
  switch (t) {
    case Type::F64:
      return H5T_NATIVE_DOUBLE;
    case Type::F32:
      return H5T_NATIVE_FLOAT;
    case Type::I64:
      return H5T_NATIVE_INT64;
    case Type::U8:
      return H5T_NATIVE_UINT8;
    case Type::F16: {
      // IEEE binary16: sign bit 15, exponent bits 10-14 (bias 15), mantissa bits 0-9.
      static const hid_t half = [] {
        hid_t h = check(H5Tcopy(H5T_IEEE_F32LE), "copying float type");
        check_status(H5Tset_fields(h, 15, 10, 5, 0, 10), "defining half-float fields");
        check_status(H5Tset_size(h, 2), "sizing half-float type");
        check_status(H5Tset_ebias(h, 15), "setting half-float exponent bias");
        return h;
      }();
      return half;
    }
  }
  return H5T_NATIVE_DOUBLE;
}

File File::create(const std::string& path) {
  silence();
  File f;
  f.path_ = path;
  // HDF5 1.8+ format: attributes over 64 KiB (a big zoo's config) go to dense storage.
  Handle fapl(check(H5Pcreate(H5P_FILE_ACCESS), "creating file access properties"));
  check_status(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_LATEST), "setting format bounds");
  // Closing the file closes whatever is still open in it, also after a failed
  // write (a full disk): nothing is left for the library's exit to trip on.
  check_status(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), "setting the close degree");
  f.h_ = Handle(check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), "creating file " + path));
  return f;
}

File File::create_parallel(const std::string& path, MPI_Comm comm) {
  silence();
  File f;
  f.path_ = path;
  Handle fapl(check(H5Pcreate(H5P_FILE_ACCESS), "creating file access properties"));
  check_status(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL), "selecting MPI-IO for " + path);
  check_status(H5Pset_all_coll_metadata_ops(fapl.get(), true), "requesting collective metadata reads");
  check_status(H5Pset_coll_metadata_write(fapl.get(), true), "requesting collective metadata writes");
  check_status(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_LATEST), "setting format bounds");
  f.h_ = Handle(check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), "creating file " + path));
  f.dxpl_ = Handle(check(H5Pcreate(H5P_DATASET_XFER), "creating transfer properties"));
  check_status(H5Pset_dxpl_mpio(f.dxpl_.get(), H5FD_MPIO_COLLECTIVE), "requesting collective transfers");
  return f;
}

File File::open(const std::string& path, bool writable) {
  silence();
  File f;
  f.path_ = path;
  f.h_ = Handle(
      check(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT), "opening file " + path));
  return f;
}

void File::flush() { check_status(H5Fflush(h_.get(), H5F_SCOPE_GLOBAL), "flushing file " + path_); }

void File::close() {
  if (!h_.valid()) return;
  const hid_t id = h_.release();  // closed here, checked, not by the destructor
  check_status(H5Fclose(id), "closing file " + path_);
}

namespace {

// The final image of an in-memory file, handed over when HDF5 frees it at
// close (the documented way to get a closed, consistent file image).
struct Image {
  std::vector<char> bytes;
  size_t size = 0;
};
void* image_malloc(size_t n, H5FD_file_image_op_t, void* udata) {
  static_cast<Image*>(udata)->size = n;
  return std::malloc(n);
}
void* image_memcpy(void* dst, const void* src, size_t n, H5FD_file_image_op_t, void*) {
  return std::memcpy(dst, src, n);
}
void* image_realloc(void* p, size_t n, H5FD_file_image_op_t, void* udata) {
  static_cast<Image*>(udata)->size = n;
  return std::realloc(p, n);
}
herr_t image_free(void* p, H5FD_file_image_op_t op, void* udata) {
  auto* image = static_cast<Image*>(udata);
  if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE && p)
    image->bytes.assign(static_cast<char*>(p), static_cast<char*>(p) + image->size);
  std::free(p);
  return 0;
}
void* image_udata_copy(void* udata) { return udata; }
herr_t image_udata_free(void*) { return 0; }

}  // namespace

void write_file(const std::string& path, const std::function<void(hid_t file)>& fill) {
  // Built in memory (HDF5's core driver, no backing file) and written out by
  // us: HDF5 never meets a full disk half-way through a file (which can leave
  // its state broken), and a failed write names the file and the reason.
  Image image;
  try {
    silence();
    Handle fapl(check(H5Pcreate(H5P_FILE_ACCESS), "creating file access properties"));
    check_status(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_LATEST), "setting format bounds");
    check_status(H5Pset_fapl_core(fapl.get(), size_t{1} << 16, false), "building a file in memory");
    H5FD_file_image_callbacks_t callbacks = {image_malloc,     image_memcpy,     image_realloc, image_free,
                                             image_udata_copy, image_udata_free, &image};
    check_status(H5Pset_file_image_callbacks(fapl.get(), &callbacks), "capturing the file image");
    File f;
    f.path_ = path;
    f.h_ = Handle(check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), "creating file " + path));
    fill(f.id());
    f.close();
  } catch (const StoreError& e) {
    throw_input("cannot write " + path + ": " + e.what());
  }
  if (image.bytes.size() < 36) throw_internal("HDF5 gave no image of " + path);
  // The core driver grows in 64 KiB steps: the file ends where its superblock
  // (version 2 or 3, which the format bounds give) says, at byte 28.
  size_t end = image.bytes.size();
  if (image.bytes[8] == 2 || image.bytes[8] == 3) {
    uint64_t eoa = 0;
    for (int i = 7; i >= 0; --i)
      eoa = (eoa << 8) | static_cast<unsigned char>(image.bytes[28 + static_cast<size_t>(i)]);
    if (eoa > 0 && eoa <= end) end = static_cast<size_t>(eoa);
  }
  write_bytes_atomic(path, image.bytes.data(), end);
}

bool exists(hid_t loc, const std::string& path) {
  silence();
  // Check each component, as H5Lexists fails when an intermediate link is missing.
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    const std::string prefix = path.substr(0, pos);
    if (prefix.empty() || prefix == "/") continue;
    if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

std::vector<std::string> list(hid_t loc, const std::string& group) {
  Handle g(check(H5Gopen2(loc, group.c_str(), H5P_DEFAULT), "opening group " + at(loc, group)));
  H5G_info_t info;
  check_status(H5Gget_info(g.get(), &info), "reading group " + at(loc, group));
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len = check(H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT),
                              "listing group " + at(loc, group));
    std::string name(static_cast<size_t>(len) + 1, '\0');
    H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<size_t>(len));
    names.push_back(name);
  }
  return names;
}

void create_dataset(hid_t loc, const std::string& path, Type type, const std::vector<hsize_t>& d) {
  Handle space = simple_space(d);
  Handle dcpl(check(H5Pcreate(H5P_DATASET_CREATE), "creating dataset properties"));
  check_status(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "disabling fill");
  Handle ds(check(H5Dcreate2(loc, path.c_str(), native(type), space.get(), lcpl().get(), dcpl.get(), H5P_DEFAULT),
                  "creating dataset " + at(loc, path)));
}

namespace {
// Writes all of `ds` from `data`, or (participate = false) nothing, as one
// collective-capable call.
void write_all_or_none(hid_t ds, hid_t mem_type, const std::vector<hsize_t>& d, const void* data, hid_t dxpl,
                       bool participate, const std::string& path) {
  if (participate) {
    check_status(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, dxpl, data), "writing dataset " + path);
    return;
  }
  Handle file_space(check(H5Dget_space(ds), "getting dataspace of " + path));
  check_status(H5Sselect_none(file_space.get()), "selecting nothing in " + path);
  Handle mem_space = simple_space(d);
  check_status(H5Sselect_none(mem_space.get()), "selecting nothing in memory");
  check_status(H5Dwrite(ds, mem_type, mem_space.get(), file_space.get(), dxpl, data), "writing dataset " + path);
}
}  // namespace

void write(hid_t loc, const std::string& path, Type type, const std::vector<hsize_t>& d, const void* data, hid_t dxpl,
           bool participate) {
  Handle space = simple_space(d);
  Handle ds(check(H5Dcreate2(loc, path.c_str(), native(type), space.get(), lcpl().get(), H5P_DEFAULT, H5P_DEFAULT),
                  "creating dataset " + at(loc, path)));
  write_all_or_none(ds.get(), native(type), d, data, dxpl, participate, at(loc, path));
}

void write_slab(hid_t loc, const std::string& path, Type type, const std::vector<hsize_t>& offset,
                const std::vector<hsize_t>& count, const void* data, hid_t dxpl) {
  Handle ds = open_dataset(loc, path);
  Handle file_space(check(H5Dget_space(ds.get()), "getting dataspace of " + at(loc, path)));
  Handle mem_space = simple_space(count);
  bool empty = false;
  for (auto c : count) empty = empty || c == 0;
  if (empty) {
    check_status(H5Sselect_none(file_space.get()), "selecting nothing in " + at(loc, path));
    check_status(H5Sselect_none(mem_space.get()), "selecting nothing in memory");
  } else {
    check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, offset.data(), nullptr, count.data(), nullptr),
                 "selecting a block of " + at(loc, path));
  }
  check_status(H5Dwrite(ds.get(), native(type), mem_space.get(), file_space.get(), dxpl, data),
               "writing a block of " + at(loc, path));
}

void write_strings(hid_t loc, const std::string& path, const std::vector<std::string>& values, hid_t dxpl,
                   bool participate) {
  size_t len = 1;
  for (const auto& v : values) len = std::max(len, v.size());
  std::vector<char> buf(values.size() * len, '\0');
  for (size_t i = 0; i < values.size(); ++i) std::copy(values[i].begin(), values[i].end(), buf.begin() + i * len);
  Handle type = fixed_string_type(len);
  Handle space = simple_space({values.size()});
  Handle ds(check(H5Dcreate2(loc, path.c_str(), type.get(), space.get(), lcpl().get(), H5P_DEFAULT, H5P_DEFAULT),
                  "creating dataset " + at(loc, path)));
  write_all_or_none(ds.get(), type.get(), {values.size()}, buf.data(), dxpl, participate, at(loc, path));
}

std::vector<hsize_t> dims(hid_t loc, const std::string& path) {
  Handle ds = open_dataset(loc, path);
  Handle space(check(H5Dget_space(ds.get()), "getting dataspace of " + at(loc, path)));
  const int rank = check(H5Sget_simple_extent_ndims(space.get()), "reading rank of " + at(loc, path));
  std::vector<hsize_t> d(static_cast<size_t>(rank));
  check(H5Sget_simple_extent_dims(space.get(), d.data(), nullptr), "reading shape of " + at(loc, path));
  return d;
}

std::vector<double> read_f64(hid_t loc, const std::string& path) {
  return read_as<double>(loc, path, H5T_NATIVE_DOUBLE);
}
std::vector<float> read_f32(hid_t loc, const std::string& path) { return read_as<float>(loc, path, H5T_NATIVE_FLOAT); }
void read_f32_into(hid_t loc, const std::string& path, float* dst) {
  Handle ds = open_dataset(loc, path);
  check_status(H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst),
               "reading dataset " + at(loc, path));
}

std::vector<int64_t> read_i64(hid_t loc, const std::string& path) {
  return read_as<int64_t>(loc, path, H5T_NATIVE_INT64);
}

std::vector<float> read_slab_f32(hid_t loc, const std::string& path, const std::vector<hsize_t>& offset,
                                 const std::vector<hsize_t>& count) {
  Handle ds = open_dataset(loc, path);
  Handle file_space(check(H5Dget_space(ds.get()), "getting dataspace of " + at(loc, path)));
  check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, offset.data(), nullptr, count.data(), nullptr),
               "selecting a block of " + at(loc, path));
  Handle mem_space = simple_space(count);
  hsize_t n = 1;
  for (auto c : count) n *= c;
  std::vector<float> v(static_cast<size_t>(n));
  check_status(H5Dread(ds.get(), H5T_NATIVE_FLOAT, mem_space.get(), file_space.get(), H5P_DEFAULT, v.data()),
               "reading a block of " + at(loc, path));
  return v;
}

std::vector<std::string> read_strings(hid_t loc, const std::string& path) {
  Handle ds = open_dataset(loc, path);
  Handle ftype(check(H5Dget_type(ds.get()), "reading type of " + at(loc, path)));
  if (H5Tget_class(ftype.get()) != H5T_STRING)
    throw StoreError("HDF5: dataset " + at(loc, path) + " does not hold strings");
  const auto d = dims(loc, path);
  const size_t n = d.empty() ? 1 : static_cast<size_t>(d[0]);
  std::vector<std::string> out;
  if (H5Tis_variable_str(ftype.get()) > 0) {
    Handle type = string_type();
    std::vector<char*> ptrs(n, nullptr);
    check_status(H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), "reading " + at(loc, path));
    for (auto* p : ptrs) out.emplace_back(p ? p : "");
    Handle space(check(H5Dget_space(ds.get()), "getting dataspace of " + at(loc, path)));
    H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, ptrs.data());
  } else {
    const size_t len = H5Tget_size(ftype.get());
    std::vector<char> buf(n * len);
    check_status(H5Dread(ds.get(), ftype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), "reading " + at(loc, path));
    for (size_t i = 0; i < n; ++i) {
      std::string s(buf.data() + i * len, len);
      out.push_back(s.substr(0, s.find('\0')));
    }
  }
  return out;
}

void set_attr(hid_t loc, const std::string& object, const std::string& name, const std::string& value) {
  Handle obj = open_object(loc, object);
  if (H5Aexists(obj.get(), name.c_str()) > 0) H5Adelete(obj.get(), name.c_str());
  Handle type = fixed_string_type(value.size());
  Handle space(check(H5Screate(H5S_SCALAR), "creating a scalar dataspace"));
  Handle attr(check(H5Acreate2(obj.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                    "creating attribute " + name + " on " + at(loc, object)));
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  check_status(H5Awrite(attr.get(), type.get(), padded.data()), "writing attribute " + name + " on " + at(loc, object));
}

void set_attr(hid_t loc, const std::string& object, const std::string& name, int64_t value) {
  Handle obj = open_object(loc, object);
  if (H5Aexists(obj.get(), name.c_str()) > 0) H5Adelete(obj.get(), name.c_str());
  Handle space(check(H5Screate(H5S_SCALAR), "creating a scalar dataspace"));
  Handle attr(check(H5Acreate2(obj.get(), name.c_str(), H5T_NATIVE_INT64, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                    "creating attribute " + name + " on " + at(loc, object)));
  check_status(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), "writing attribute " + name + " on " + at(loc, object));
}

bool has_attr(hid_t loc, const std::string& object, const std::string& name) {
  Handle obj = open_object(loc, object);
  return H5Aexists(obj.get(), name.c_str()) > 0;
}

std::string get_attr_string(hid_t loc, const std::string& object, const std::string& name) {
  Handle obj = open_object(loc, object);
  Handle attr(
      check(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), "opening attribute " + name + " on " + at(loc, object)));
  Handle ftype(check(H5Aget_type(attr.get()), "reading type of attribute " + name));
  if (H5Tis_variable_str(ftype.get()) > 0) {
    Handle type = string_type();
    char* p = nullptr;
    check_status(H5Aread(attr.get(), type.get(), &p), "reading attribute " + name + " on " + at(loc, object));
    std::string s = p ? p : "";
    H5free_memory(p);
    return s;
  }
  std::string s(H5Tget_size(ftype.get()), '\0');
  check_status(H5Aread(attr.get(), ftype.get(), s.data()), "reading attribute " + name + " on " + at(loc, object));
  return s.substr(0, s.find('\0'));
}

int64_t get_attr_int(hid_t loc, const std::string& object, const std::string& name) {
  Handle obj = open_object(loc, object);
  Handle attr(
      check(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), "opening attribute " + name + " on " + at(loc, object)));
  int64_t v = 0;
  check_status(H5Aread(attr.get(), H5T_NATIVE_INT64, &v), "reading attribute " + name + " on " + at(loc, object));
  return v;
}

std::string library_version() {
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  return std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rel);
}

}  // namespace modelgif::h5
