# libpng (libpng-dev), which OpenCV decodes PNG files with: src/io/image.cpp reads a PNG through it first, with
# error and warning functions of its own, so that libpng's messages become the project's one line instead of
# reaching stderr through OpenCV's reader (which installs none).
find_package(PNG REQUIRED)
target_link_libraries(cnn PRIVATE PNG::PNG)
