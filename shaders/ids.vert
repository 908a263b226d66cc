#version 330
// Triangle-id pass: vertices are unshared (3 per face, in face order); each carries a barycentric corner.
uniform mat4 view_proj;
in vec3 in_position;
in vec3 in_bary;
out vec3 v_bary;

void main() {
    v_bary = in_bary;
    gl_Position = view_proj * vec4(in_position, 1.0);
}
