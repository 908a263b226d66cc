#version 330
// Coloured lines and points (grid, skeleton, axes).
uniform mat4 view_proj;
uniform float point_size;
in vec3 in_position;
in vec3 in_color;
out vec3 v_color;

void main() {
    v_color = in_color;
    gl_PointSize = point_size;
    gl_Position = view_proj * vec4(in_position, 1.0);
}
