#version 330
// Modes: 0 colour (vertex colours or texture, key light + ambient), 1 grey Lambert A + D·(n·l), 2 normals,
// 3 flat colour with alpha (the blended wireframe overlay). Alpha is 1 wherever the mesh covers the pixel: the silhouette.
uniform int mode;
uniform vec3 light_dir;   // world space, pointing from the surface toward the light
uniform vec3 eye;
uniform float ambient;
uniform vec4 flat_color;
uniform bool use_texture;
uniform sampler2D albedo;
in vec3 v_world;
in vec3 v_normal;
in vec3 v_view_normal;
in vec3 v_color;
in vec2 v_uv;
out vec4 frag_color;

void main() {
    if (mode == 3) {
        frag_color = flat_color;
        return;
    }
    vec3 n = normalize(v_normal);
    vec3 view_n = normalize(v_view_normal);
    // light the side facing the camera, so open meshes and inside views are not black
    if (!gl_FrontFacing) {
        n = -n;
        view_n = -view_n;
    }
    if (mode == 2) {
        frag_color = vec4(0.5 * view_n + 0.5, 1.0);
        return;
    }
    float lambert = max(dot(n, normalize(light_dir)), 0.0);
    float shade = ambient + (1.0 - ambient) * lambert;
    if (mode == 1) {
        frag_color = vec4(vec3(shade), 1.0);
        return;
    }
    vec3 base = use_texture ? texture(albedo, v_uv).rgb : v_color;
    frag_color = vec4(base * shade, 1.0);
}
